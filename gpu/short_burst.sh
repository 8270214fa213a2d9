#!/usr/bin/env bash
# A short GPU session (about 2.5 minutes of device time): ESPCN x2/x3/x4 train side by side while
# the compiled Triton kernels are checked; the GPU benchmark runs last, on a quiet GPU.
set -u
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
D=.gpu/data
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
mkdir -p /tmp/runs
for s in 2 3 4; do
  timeout -s TERM 110 python3 -m rescale.train espcn --scale $s --data $D/T91 --eval-data $D/Set5 \
    --minutes ${TRAIN_MIN:-1.25} --batch 128 --eval-every 1000 --threads 3 \
    --run /tmp/runs/espcn_x$s --export /tmp/runs/espcn_x$s > /tmp/runs/espcn_x$s.log 2>&1 &
done
timeout 60 python3 bench/gpu_check.py > $OUT/gpu_check.log 2>&1; echo "gpu_check rc=$?"; tail -n 2 $OUT/gpu_check.log
wait
tail -n 3 /tmp/runs/*.log
tar -C /tmp/runs -czf $OUT/espcn.tar.gz espcn_x2 espcn_x3 espcn_x4 espcn_x2.safetensors espcn_x2.json espcn_x3.safetensors espcn_x3.json espcn_x4.safetensors espcn_x4.json espcn_x2.log espcn_x3.log espcn_x4.log 2>&1 | tail -2
timeout 35 python3 bench/resample_gpu.py > $OUT/bench_gpu.log 2>&1; echo "bench rc=$?"; tail -n 25 $OUT/bench_gpu.log
