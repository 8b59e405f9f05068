import os
import sys

import pytest

# One torch thread everywhere: on 2 shared cores more threads make SB3 several times slower.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Tests that train set torch to one thread (torch is imported by their modules, if at all)."""
    torch = sys.modules.get("torch")
    if torch is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
