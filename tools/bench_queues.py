"""Fast WaveNet generation under torch: the eager in-place queue path of kgen/samplers/queues.py against the portable
keras.ops path (KGEN_PORTABLE_QUEUES=1), interleaved in one run.

    KERAS_BACKEND=torch python tools/bench_queues.py
"""

import os
import statistics
import time

import kgen

m = kgen.zoo.get("wavenet.fsdd")
m.sample(1, 50, labels=7, seed=0)
t = {"0": [], "1": []}
for _ in range(3):
    for flag in ("0", "1"):
        os.environ["KGEN_PORTABLE_QUEUES"] = flag
        s = time.perf_counter(); m.sample(1, 200, labels=7, seed=0); t[flag].append(time.perf_counter() - s)
a, b = statistics.median(t["0"]), statistics.median(t["1"])
print(f"eager in-place queues {a:.2f} s, portable keras.ops queues {b:.2f} s, ratio {b / a:.2f}x (200 steps, median of 3)")
