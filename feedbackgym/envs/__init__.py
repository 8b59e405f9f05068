"""One subpackage per domain; each keeps its simulation core free of Gymnasium."""
