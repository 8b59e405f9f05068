import os

# One torch thread everywhere: on 2 shared cores more threads make SB3 several times slower.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
