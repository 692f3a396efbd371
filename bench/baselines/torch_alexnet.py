#!/usr/bin/env python3
"""PyTorch baseline for the benchmark: the paper's AlexNet on CPU, measured the way `npm run bench` measures ours.

Prints one JSON line per figure: {"name", "value", "unit", "batch", "threads", "reps", "torch", ...}.
  torch_train_step       full training step (forward, cross-entropy, backward, SGD momentum 0.9, wd 5e-4), images/s
  torch_transfer_step    transfer step with the conv stack frozen (fc6-fc8 trained), images/s
  torch_transfer_fc8     transfer step with everything but fc8 frozen ("fixed feature extractor"), images/s
  torch_infer            inference (eval mode, no grad), images/s, at batch 1 and --batch
  torch_train_memory     peak RSS of this process after the training steps, MB (measured before anything else runs)
  torch_cached_step      fc6-fc8 trained on pool5 features given as input (our recipe's cached transfer step), images/s

--device cuda (the gpu group): the same figures on the GPU, each call followed by torch.cuda.synchronize();
--precision fp32 (TF32 off: the equal-work baseline), tf32 (TF32 matmuls and convolutions) or bf16 (autocast).

Needs torch (a venv outside the repo is fine, e.g.: python3 -m venv /work/.venv-bench &&
/work/.venv-bench/bin/pip install torch==2.13.0). Never a dependency of the product.
Usage: torch_alexnet.py [--threads 2] [--batch 32] [--reps 7] [--only train,transfer,infer,cached]
                        [--device cpu|cuda] [--precision fp32|tf32|bf16]
"""
import argparse
import json
import resource
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class AlexNet(nn.Module):
    """Krizhevsky et al. 2012: 5 conv + 3 fc, conv2/4/5 split in two groups, LRN after conv1/conv2."""

    def __init__(self, num_classes=1000, dropout=0.5, lrn_k=2.0):
        super().__init__()
        lrn = dict(size=5, alpha=1e-4, beta=0.75, k=lrn_k)  # the paper's n=5, alpha, beta, k=2 (BVLC: k=1; alpha/n as Caffe)
        self.features = nn.Sequential(
            nn.Conv2d(3, 96, 11, stride=4), nn.ReLU(inplace=True),            # 227 -> 55
            nn.LocalResponseNorm(**lrn), nn.MaxPool2d(3, 2),                    # 55 -> 27 (overlapping 3/2)
            nn.Conv2d(96, 256, 5, padding=2, groups=2), nn.ReLU(inplace=True),  # 27
            nn.LocalResponseNorm(**lrn), nn.MaxPool2d(3, 2),                    # 27 -> 13
            nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(inplace=True),           # 13
            nn.Conv2d(384, 384, 3, padding=1, groups=2), nn.ReLU(inplace=True), # 13
            nn.Conv2d(384, 256, 3, padding=1, groups=2), nn.ReLU(inplace=True), # 13
            nn.MaxPool2d(3, 2),                                                 # 13 -> 6: 256*6*6 = 9216
        )
        self.classifier = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(9216, 4096), nn.ReLU(inplace=True),  # fc6
            nn.Dropout(dropout), nn.Linear(4096, 4096), nn.ReLU(inplace=True),  # fc7
            nn.Linear(4096, num_classes),                                       # fc8 (logits)
        )

    def forward(self, x):  # x: [N, 3, 227, 227]
        return self.classifier(torch.flatten(self.features(x), 1))


SYNC = lambda: None  # torch.cuda.synchronize on the GPU: a call is timed until its work is done


def timed(fn, reps, warmup=2):
    """(median wall, fastest wall, median process CPU) seconds of fn() over reps calls after warmup calls."""
    for _ in range(warmup):
        fn()
    SYNC()
    times, cpu = [], []
    for _ in range(reps):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        SYNC()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(times), min(times), statistics.median(cpu)


def emit(name, value, unit, **extra):
    """One JSON line; "best" (from the fastest rep) shows how much a busy machine slowed the median."""
    print(json.dumps({"name": name, "value": round(value, 3), "unit": unit, **extra}), flush=True)


def rate(n, t):
    """images/s from timed(): value (median), best (fastest rep), per_cpu_s (images per CPU-second:
    on a busy shared machine, per_cpu_s x threads estimates the idle figure better than the median)."""
    return n / t[0], dict(best=round(n / t[1], 3), per_cpu_s=round(n / t[2], 3))


AUTOCAST = None  # torch.autocast("cuda", dtype=torch.bfloat16) with --precision bf16


def train_step_fn(model, params, x, y):
    opt = torch.optim.SGD(params, lr=0.01, momentum=0.9, weight_decay=5e-4)

    def step():
        opt.zero_grad(set_to_none=True)
        if AUTOCAST is None:
            loss = F.cross_entropy(model(x), y)
        else:
            with AUTOCAST():
                loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    return step


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)  # the setting: 2 threads
    ap.add_argument("--batch", type=int, default=32)   # training / large-batch inference batch
    ap.add_argument("--reps", type=int, default=7)     # timed repetitions per figure (median reported)
    ap.add_argument("--only", default="train,transfer,infer")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--precision", default="fp32", choices=["fp32", "tf32", "bf16"])
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    only = set(a.only.split(","))
    common = dict(threads=a.threads, reps=a.reps, torch=torch.__version__, device=a.device, precision=a.precision)
    dev = torch.device(a.device)
    if a.device == "cuda":
        global SYNC, AUTOCAST
        SYNC = torch.cuda.synchronize
        tf32 = a.precision == "tf32"
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32
        torch.backends.cudnn.benchmark = True
        common["gpu"] = torch.cuda.get_device_name(0)
        if a.precision == "bf16":
            AUTOCAST = lambda: torch.autocast("cuda", dtype=torch.bfloat16)

    model = AlexNet().to(dev)
    x = torch.randn(a.batch, 3, 227, 227, device=dev)
    y = torch.randint(0, 1000, (a.batch,), device=dev)

    if "train" in only:  # first, so that the peak RSS is the training step's
        model.train()
        v, best = rate(a.batch, timed(train_step_fn(model, list(model.parameters()), x, y), a.reps))
        emit("torch_train_step", v, "images/s", batch=a.batch, **best, **common)
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
        emit("torch_train_memory", rss_mb, "MB", batch=a.batch, **common)

    if "transfer" in only:
        model.train()
        for p in model.features.parameters():  # conv1-conv5 frozen; fc6-fc8 (with dropout) train
            p.requires_grad_(False)
        v, best = rate(a.batch, timed(train_step_fn(model, list(model.classifier.parameters()), x, y), a.reps))
        emit("torch_transfer_step", v, "images/s", batch=a.batch, trained="fc6-fc8", **best, **common)
        for p in model.classifier[:-1].parameters():  # only fc8 trains: PyTorch's "fixed feature extractor"
            p.requires_grad_(False)
        v, best = rate(a.batch, timed(train_step_fn(model, list(model.classifier[-1].parameters()), x, y), a.reps))
        emit("torch_transfer_fc8", v, "images/s", batch=a.batch, trained="fc8", **best, **common)
        for p in model.parameters():
            p.requires_grad_(True)

    if "cached" in only:  # our recipe's step: fc6-fc8 (with dropout) on pool5 features, no conv at all
        model.train()
        feats = torch.relu(torch.randn(a.batch, 9216, device=dev))
        v, best = rate(a.batch, timed(train_step_fn(model.classifier, list(model.classifier.parameters()), feats, y), a.reps))
        emit("torch_cached_step", v, "images/s", batch=a.batch, trained="fc6-fc8 on pool5 features", **best, **common)

    if "infer" in only:
        model.eval()
        for b in (1, a.batch):
            xb = x[:b].contiguous()

            def infer():
                if AUTOCAST is None:
                    return model(xb)
                with AUTOCAST():
                    return model(xb)
            with torch.no_grad():
                v, best = rate(b, timed(infer, a.reps * (4 if b == 1 else 1)))
            emit("torch_infer", v, "images/s", batch=b, **best, **common)


if __name__ == "__main__":
    main()
