#!/usr/bin/env python3
"""PyTorch baseline of the one-click fine-tune: the transfer-learning tutorial's "ConvNet as fixed
feature extractor" (pytorch.org/tutorials/beginner/transfer_learning_tutorial.html) on hymenoptera,
with the tutorial's ResNet-18 replaced by our AlexNet holding the SAME starting weights as ours
(the BVLC fixture's initializers, via onnx_to_npz.py).

What it does, as the tutorial:
  - every parameter frozen (requires_grad False), the last layer (fc8) replaced by a fresh
    nn.Linear(4096, 2): only it trains
  - SGD lr 0.001 momentum 0.9 on fc8, StepLR(step_size=7, gamma=0.1), batch 4, shuffled
  - train: RandomResizedCrop + RandomHorizontalFlip; val: Resize(256) + CenterCrop
  - each epoch: a train phase (model.train(): dropout on) and a val phase (model.eval()), the best
    val accuracy's weights kept (deepcopy); the frozen conv and fc6-fc7 run on every image, every epoch
What differs, and why:
  - 227 crops, not 224: the BVLC network's pool5 needs 227 (the zoo's 224 graph pads pool5 instead)
  - pixels as the BVLC weights expect (BGR, 0-255, Caffe's mean 104/117/123 subtracted) instead of
    ImageNet's RGB mean/std: the same preprocessing our side uses with these weights
  - torchvision is not used (its 0.28 wheel's C ops do not load in this venv): RandomResizedCrop
    (scale 0.08-1, ratio 3/4-4/3, 10 tries then centre crop), the flip, Resize and CenterCrop are
    written out below with PIL's bilinear (antialiased) resize, as torchvision does on PIL images
  - DataLoader workers: 2 (the machine's cores) instead of the tutorial's 4
Prints one JSON line: {"name":"torch_finetune","value":wall seconds of train_model,"unit":"s",...}.
Usage: torch_finetune.py --weights W.npz --data DIR [--epochs 25] [--threads 2] [--workers 2]
"""
import argparse
import copy
import json
import math
import os
import random
import time

import numpy as np
import torch
import torch.nn as nn
from PIL import Image

from torch_alexnet import AlexNet

MEAN_BGR = np.array([104.0, 117.0, 123.0], dtype=np.float32)  # Caffe's per-channel mean (B, G, R)
CROP = 227  # the BVLC network's input side
RESIZE = 256  # validation: shorter side to 256, then the centre crop (the tutorial's Resize(256))


def random_resized_crop(img, size, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3)):
    """torchvision's RandomResizedCrop.get_params + resize."""
    w, h = img.size
    area = w * h
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        target = area * random.uniform(*scale)
        ar = math.exp(random.uniform(*log_ratio))
        cw, ch = int(round(math.sqrt(target * ar))), int(round(math.sqrt(target / ar)))
        if 0 < cw <= w and 0 < ch <= h:
            i, j = random.randint(0, h - ch), random.randint(0, w - cw)
            return img.resize((size, size), Image.BILINEAR, box=(j, i, j + cw, i + ch))
    in_ratio = w / h  # fallback: centre crop at the nearest allowed ratio
    if in_ratio < ratio[0]:
        cw, ch = w, int(round(w / ratio[0]))
    elif in_ratio > ratio[1]:
        ch, cw = h, int(round(h * ratio[1]))
    else:
        cw, ch = w, h
    i, j = (h - ch) // 2, (w - cw) // 2
    return img.resize((size, size), Image.BILINEAR, box=(j, i, j + cw, i + ch))


def resize_center_crop(img, resize, crop):
    w, h = img.size
    s = resize / min(w, h)
    img = img.resize((max(resize, round(w * s)), max(resize, round(h * s))), Image.BILINEAR)
    w, h = img.size
    j, i = (w - crop) // 2, (h - crop) // 2
    return img.crop((j, i, j + crop, i + crop))


def to_input(img):
    """PIL RGB -> float32 [3, H, W]: BGR, 0-255, Caffe mean subtracted."""
    a = np.asarray(img, dtype=np.float32)[:, :, ::-1] - MEAN_BGR
    return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))


class Folder(torch.utils.data.Dataset):
    """ImageFolder: <root>/<class>/<image>, classes sorted."""

    def __init__(self, root, train):
        self.classes = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
        self.items = [(os.path.join(root, c, f), k) for k, c in enumerate(self.classes)
                      for f in sorted(os.listdir(os.path.join(root, c))) if not f.startswith(".")]
        self.train = train

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        path, label = self.items[i]
        img = Image.open(path).convert("RGB")
        if self.train:
            img = random_resized_crop(img, CROP)
            if random.random() < 0.5:
                img = img.transpose(Image.FLIP_LEFT_RIGHT)
        else:
            img = resize_center_crop(img, RESIZE, CROP)
        return to_input(img), label


def load_bvlc(model, npz):
    """The fixture's initializers into the torch AlexNet (same layouts: OIHW convs, [out, in] fc)."""
    w = np.load(npz)
    convs = [m for m in model.features if isinstance(m, nn.Conv2d)]
    fcs = [m for m in model.classifier if isinstance(m, nn.Linear)]
    with torch.no_grad():
        for k, m in enumerate(convs, 1):
            m.weight.copy_(torch.from_numpy(w[f"conv{k}_w_0"]))
            m.bias.copy_(torch.from_numpy(w[f"conv{k}_b_0"]))
        for k, m in zip((6, 7, 8), fcs):
            m.weight.copy_(torch.from_numpy(w[f"fc{k}_w_0"]))
            m.bias.copy_(torch.from_numpy(w[f"fc{k}_b_0"]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", required=True)  # .npz from onnx_to_npz.py
    ap.add_argument("--data", required=True)  # hymenoptera: train/ and val/
    ap.add_argument("--epochs", type=int, default=25)  # the tutorial's; the bench passes ours
    ap.add_argument("--batch", type=int, default=4)  # the tutorial's
    ap.add_argument("--threads", type=int, default=2)  # the 2 threads
    ap.add_argument("--workers", type=int, default=2)  # DataLoader workers (tutorial: 4; 2 cores here)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    random.seed(a.seed)

    model = AlexNet(num_classes=1000, lrn_k=1.0)  # BVLC's LRN k=1
    load_bvlc(model, a.weights)
    for p in model.parameters():  # the fixed feature extractor
        p.requires_grad = False
    model.classifier[-1] = nn.Linear(4096, 2)  # new fc8: requires_grad True by default
    criterion = nn.CrossEntropyLoss()
    opt = torch.optim.SGD(model.classifier[-1].parameters(), lr=0.001, momentum=0.9)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=7, gamma=0.1)

    def init_worker(wid):
        random.seed(a.seed * 1000 + wid + int(torch.initial_seed()) % 100000)
        torch.set_num_threads(1)

    sets = {x: Folder(os.path.join(a.data, x), x == "train") for x in ("train", "val")}
    loaders = {x: torch.utils.data.DataLoader(sets[x], batch_size=a.batch, shuffle=(x == "train"),
                                              num_workers=a.workers, worker_init_fn=init_worker,
                                              persistent_workers=False)
               for x in ("train", "val")}

    since = time.time()  # the tutorial's train_model, timed as it times itself
    best_wts, best_acc, last_acc, epoch_s = copy.deepcopy(model.state_dict()), 0.0, 0.0, []
    for epoch in range(a.epochs):
        te = time.time()
        for phase in ("train", "val"):
            model.train() if phase == "train" else model.eval()
            loss_sum, correct = 0.0, 0
            for x, y in loaders[phase]:
                opt.zero_grad()
                with torch.set_grad_enabled(phase == "train"):
                    out = model(x)
                    loss = criterion(out, y)
                    if phase == "train":
                        loss.backward()
                        opt.step()
                loss_sum += loss.item() * x.size(0)
                correct += int((out.argmax(1) == y).sum())
            if phase == "train":
                sched.step()
            acc = correct / len(sets[phase])
            if phase == "val":
                last_acc = acc
                if acc > best_acc:
                    best_acc, best_wts = acc, copy.deepcopy(model.state_dict())
        epoch_s.append(round(time.time() - te, 2))
    wall = time.time() - since
    model.load_state_dict(best_wts)
    print(json.dumps({"name": "torch_finetune", "value": round(wall, 2), "unit": "s", "epochs": a.epochs,
                      "bestValAcc": best_acc, "lastValAcc": last_acc, "epoch_s": epoch_s, "batch": a.batch,
                      "threads": a.threads, "workers": a.workers, "torch": torch.__version__}), flush=True)


if __name__ == "__main__":
    main()
