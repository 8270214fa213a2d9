#!/usr/bin/env bash
# One GPU session, run by the device tool from the repository root with $OUT set:
#   1. correctness of the compiled Triton kernels (bench/gpu_check.py),
#   2. the GPU benchmark (bench/resample_gpu.py),
#   3. a training burst: IRN x2 and x4, IARN and ESPCN x2/x3/x4 side by side on the one GPU.
# Training data travels in .gpu/data (scripts/pack_gpu_data.py; carried, git-ignored).
# Results come back as at most 8 files: logs plus one tarball per model family.
set -u
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
TRAIN_MIN=${TRAIN_MIN:-5.5}
D=.gpu/data
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch, triton; print('torch', torch.__version__, 'triton', triton.__version__)"

timeout 90 python3 bench/gpu_check.py > $OUT/gpu_check.log 2>&1; echo "gpu_check rc=$?"; tail -n 3 $OUT/gpu_check.log
timeout 120 python3 bench/resample_gpu.py > $OUT/bench_gpu.log 2>&1; echo "bench rc=$?"; cat $OUT/bench_gpu.log | tail -n 30

mkdir -p /tmp/runs
# IRN continues the shipped weights (same architecture, --init carries step count and curve).
for s in 2 4; do
  timeout -s TERM $(python3 -c "print(int($TRAIN_MIN*60+120))") python3 -m rescale.train irn --scale $s \
    --data $D/BSD200 $D/T91 --eval-data $D/Set5 --init weights/irn_x$s.safetensors --minutes $TRAIN_MIN \
    --batch 16 --patch 128 --eval-every 500 --save-seconds 60 --log-seconds 20 \
    --run /tmp/runs/irn_x$s --export /tmp/runs/irn_x$s > /tmp/runs/irn_x$s.log 2>&1 &
done
# IARN continues the shipped weights (--init carries step count and curve).
timeout -s TERM $(python3 -c "print(int($TRAIN_MIN*60+150))") python3 -m rescale.train iarn \
  --data $D/BSD200 $D/T91 --eval-data $D/Set5 --init weights/iarn.safetensors --minutes $TRAIN_MIN \
  --batch 16 --lr-patch 32 --eval-every 1000 --save-seconds 60 --log-seconds 20 \
  --run /tmp/runs/iarn --export /tmp/runs/iarn > /tmp/runs/iarn.log 2>&1 &
for s in 2 3 4; do
  timeout -s TERM $(python3 -c "print(int($TRAIN_MIN*60+90))") python3 -m rescale.train espcn --scale $s \
    --data $D/T91 $D/BSD200 --eval-data $D/Set5 --minutes $TRAIN_MIN --batch 128 --eval-every 2000 --threads 2 \
    --run /tmp/runs/espcn_x$s --export /tmp/runs/espcn_x$s > /tmp/runs/espcn_x$s.log 2>&1 &
done
wait
tail -n 4 /tmp/runs/*.log
tar -C /tmp/runs -czf $OUT/espcn.tar.gz $(cd /tmp/runs && ls -d espcn_x*)
# IRN/IARN checkpoints (with Adam state) are too large to bring back: weights, manifests, logs only.
tar -C /tmp/runs -czf $OUT/irn.tar.gz irn_x2.safetensors irn_x2.json irn_x2.log irn_x2/log.jsonl irn_x4.safetensors irn_x4.json irn_x4.log irn_x4/log.jsonl \
  iarn.safetensors iarn.json iarn.log iarn/log.jsonl
ls -la $OUT
