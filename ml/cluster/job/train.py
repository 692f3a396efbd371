"""Trains this job's AlexNet with PyTorch DistributedDataParallel: the same recipe as AlexNet Studio's
one click (ml/transfer.ts, ml/train.ts), on the library exported beside this file.

  torchrun --nnodes N --nproc-per-node G train.py            (README.md: SLURM, Ray Train, options)

Recipes (job.json "recipe"):
  transfer: a new fc8 on frozen conv1-5 ("head" stage, only fc8 trains), then fc6-fc8 with fc6 and
            fc7 at a tenth of fc8's rate ("finetune" stage; job.json's fineTune 'all' unfreezes
            every layer, from conv1 at 1/100, 'none' keeps training only fc8);
  full:     every layer trains (from the starting weights, or the paper's initialisation).
The paper's SGD (momentum 0.9, weight decay 5e-4), class-balanced cross-entropy, the learning rate
divided by 10 when the validation loss stops improving (at most 3 times), early stopping, the
paper's augmentation (random 227 crops of the 256 image, mirror, PCA colour noise).

Data: WebDataset tar shards (shards/train-000000.tar ...: <key>.jpg|png|... the original bytes,
<key>.cls the class index). Every epoch the shard list is shuffled with the same seed on every rank
and rank r reads shards r, r + world, ... (disjoint, like DistributedSampler); ranks take the same
number of steps (the smallest rank's count, so that DDP's all-reduces pair up).

Output (--out, default result/): metrics.jsonl (one line per epoch), checkpoint.pt (resume with
--resume), best.safetensors, and at the end model.onnx, model.safetensors (the best epoch's
weights), labels.json, preprocessing.json, job.json, predictions.jsonl (the validation photos).
"""
import argparse
import io
import json
import math
import os
import random
import sys
import tarfile
import time

import torch
import torch.distributed as dist
import torch.nn.functional as F
from PIL import Image, ImageOps

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from alexnet import AlexNet, export_onnx, load_safetensors, save_safetensors  # noqa: E402

IMAGE_EXTS = ("jpg", "jpeg", "png", "webp", "gif", "tif", "tiff", "bmp", "avif", "heic")
# The app's plateau schedule (ml/train.ts DEFAULT_PLATEAU), on the validation loss
LR_PATIENCE, LR_FACTOR, MAX_LR_DROPS, EARLY_STOP_PATIENCE, MIN_DELTA = 2, 0.1, 3, 5, 1e-4
ONE_BIASES = ("conv2", "conv4", "conv5", "fc6", "fc7")  # the paper initialises these biases to 1


def parse_args(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description="Train this job's AlexNet with PyTorch DDP (launch with torchrun).")
    p.add_argument("--job", default=here, help="the job folder (default: this file's)")
    p.add_argument("--out", default=None, help="output folder (default: JOB/result)")
    p.add_argument("--epochs", type=int, default=None, help="transfer: fine-tune epochs; full: epochs (job.json's default)")
    p.add_argument("--head-epochs", type=int, default=None, help="transfer: epochs of the new head alone")
    p.add_argument("--batch", type=int, default=None, help="images per step per process")
    p.add_argument("--lr", type=float, default=None, help="base learning rate (transfer: the new head's)")
    p.add_argument("--workers", type=int, default=2, help="decoding processes per rank (0: decode in the training process)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads per process")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt (from the beginning when there is none)")
    p.add_argument("--stop-after", type=int, default=None, help="stop after this many epochs in this launch (a preempted job; --resume continues)")
    p.add_argument("--bench-reader", action="store_true", help="only read and decode this rank's training shards once; print images/s")
    return p.parse_args(argv)


# ------------------------------------------------------------------------------------------------
# data: shards -> (image, label)


def read_shard(path):
    """Yields (key, image bytes, extension, class index) from a WebDataset tar shard."""
    samples = {}
    order = []
    with tarfile.open(path, "r") as tar:
        for m in tar:
            if not m.isfile():
                continue
            base = os.path.basename(m.name)
            key, _, ext = base.partition(".")
            if key not in samples:
                samples[key] = {}
                order.append(key)
            samples[key][ext.lower()] = tar.extractfile(m).read()
    for key in order:
        s = samples[key]
        ext = next((e for e in IMAGE_EXTS if e in s), None)
        if ext is None or "cls" not in s:
            raise ValueError(f"{path}: sample {key} lacks an image or its .cls")
        yield key, s[ext], ext, int(s["cls"].decode().strip())


def decode(data, prep):
    """The app's decoding (ml/preprocess.ts loadImage): EXIF orientation, alpha on white, RGB, the
    shorter side scaled to `resize` (Lanczos), the centre resize x resize square. uint8 [S, S, 3]."""
    img = Image.open(io.BytesIO(data))
    img.seek(0)
    img = ImageOps.exif_transpose(img)
    if img.mode in ("RGBA", "LA", "P"):
        img = img.convert("RGBA")
        bg = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(bg, img)
    img = img.convert("RGB")
    size = prep["resize"]
    w, h = img.size
    scale = size / min(w, h)
    nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
    img = img.resize((nw, nh), Image.LANCZOS)
    left, top = (nw - size) // 2, (nh - size) // 2
    img = img.crop((left, top, left + size, top + size))
    return torch.frombuffer(bytearray(img.tobytes()), dtype=torch.uint8).reshape(size, size, 3)


def to_input(pixels, prep, rng, augment, pca):
    """One view as the network's input [3, crop, crop]: the app's toInput (ml/preprocess.ts)."""
    S, R = prep["crop"], prep["resize"]
    m = R - S
    if augment and augment.get("randomCrop", True):
        x, y = rng.randint(0, m), rng.randint(0, m)
    else:
        x = y = m // 2
    flip = augment is not None and augment.get("flip", True) and rng.random() < 0.5
    v = pixels[y : y + S, x : x + S].to(torch.float32)  # HWC, RGB, 0-255
    if flip:
        v = v.flip(1)
    pca_std = augment.get("pcaStd", 0.1) if augment else 0
    if pca and pca_std > 0:
        a = [rng.gauss(0, 1) * pca_std for _ in range(3)]
        off = [sum(a[i] * math.sqrt(max(0.0, pca["eigenvalues"][i])) * pca["eigenvectors"][i][c] for i in range(3)) for c in range(3)]
        v = v + torch.tensor(off, dtype=torch.float32)
    if prep["channelOrder"] == "BGR":
        v = v[:, :, [2, 1, 0]]
    v = (v * prep["scale"] - torch.tensor(prep["mean"], dtype=torch.float32)) / torch.tensor(prep["std"], dtype=torch.float32)
    return v.permute(2, 0, 1).contiguous()


class ShardStream(torch.utils.data.IterableDataset):
    """The samples of `shards` (this rank's), shards split further among DataLoader workers,
    shuffled through a buffer when training."""

    def __init__(self, shards, prep, augment, pca, seed, shuffle):
        self.shards, self.prep, self.augment, self.pca, self.seed, self.shuffle = shards, prep, augment, pca, seed, shuffle

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        wid, nw = (info.id, info.num_workers) if info else (0, 1)
        rng = random.Random(self.seed * 1000 + wid)
        buf = []
        for shard in self.shards[wid::nw]:
            for key, data, _ext, label in read_shard(shard):
                item = (to_input(decode(data, self.prep), self.prep, rng, self.augment, self.pca), label, key)
                if not self.shuffle:
                    yield item
                    continue
                buf.append(item)
                if len(buf) >= 64:
                    yield buf.pop(rng.randrange(len(buf)))
        rng.shuffle(buf)
        yield from buf


def collate(items):
    return torch.stack([i[0] for i in items]), torch.tensor([i[1] for i in items]), [i[2] for i in items]


# ------------------------------------------------------------------------------------------------
# distributed setup


def setup():
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    cuda = torch.cuda.is_available()
    device = torch.device(f"cuda:{local}" if cuda else "cpu")
    if cuda:
        torch.cuda.set_device(device)
    if world > 1 and not dist.is_initialized():  # Ray Train has made it already
        dist.init_process_group("nccl" if cuda else "gloo")
    return rank, world, device


def all_sum(values, device, world):
    t = torch.tensor(values, dtype=torch.float64, device=device)
    if world > 1:
        dist.all_reduce(t)
    return t.tolist()


def rank_shards(shards, epoch, seed, rank, world):
    """Epoch `epoch`'s shards for every rank: the same shuffle everywhere, then every world-th."""
    order = list(range(len(shards)))
    random.Random(seed * 7919 + epoch).shuffle(order)
    return [[shards[i] for i in order[r::world]] for r in range(world)]


# ------------------------------------------------------------------------------------------------
# the model, its stages and their learning-rate multipliers (ml/transfer.ts stageMultipliers)


def multipliers(stage, fine_tune="fc"):
    """Rate multiplier per layer; 0 = frozen. The finetune stage unfreezes fc6-fc7 at 1/10 ('fc',
    the default), nothing more ('none'), or every layer from conv1 at 1/100 to fc7 at 1/10 ('all')."""
    layers = ["conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8"]
    m = {l: 0.0 for l in layers}
    m["fc8"] = 1.0
    if stage == "main":
        return {l: 1.0 for l in layers}
    if stage == "finetune" and fine_tune == "fc":
        m.update(fc6=0.1, fc7=0.1)
    if stage == "finetune" and fine_tune == "all":
        for i, l in enumerate(layers[:-1]):
            m[l] = 0.01 * 10 ** (i / (len(layers) - 2))
    return m


def init_model(job, jobdir, seed):
    net = AlexNet(job["model"])
    g = torch.Generator().manual_seed(seed)
    start = os.path.join(jobdir, "weights", "start.safetensors")
    have = load_safetensors(start) if os.path.exists(start) else {}
    own = net.state_dict()
    for name, t in own.items():
        if name in have and tuple(have[name].shape) == tuple(t.shape) and not (job["recipe"] == "transfer" and name.startswith("fc8.")):
            own[name] = have[name]
        elif name.endswith("bias"):  # the paper's init (section 5); a new head: bias 0
            own[name] = torch.full_like(t, 1.0 if name.split(".")[0] in ONE_BIASES and not have else 0.0)
        else:
            own[name] = torch.randn(t.shape, generator=g) * 0.01
    net.load_state_dict(own)
    return net


def make_optimizer(net, stage, lr, fine_tune):
    groups = []
    for layer, m in multipliers(stage, fine_tune).items():
        mod = getattr(net, layer)
        for p in mod.parameters():
            p.requires_grad_(m > 0)
        if m > 0:
            groups.append({"params": list(mod.parameters()), "lr": lr * m, "mult": m})
    return torch.optim.SGD(groups, lr=lr, momentum=0.9, weight_decay=5e-4)


def set_lr(opt, lr):
    for g in opt.param_groups:
        g["lr"] = lr * g["mult"]


def class_weights(counts):
    n, k = sum(counts), len(counts)
    return torch.tensor([n / (k * c) if c > 0 else 0.0 for c in counts], dtype=torch.float32)


# ------------------------------------------------------------------------------------------------


def main(argv=None):
    args = parse_args(argv)
    jobdir = os.path.abspath(args.job)
    out = os.path.abspath(args.out or os.path.join(jobdir, "result"))
    with open(os.path.join(jobdir, "job.json")) as f:
        job = json.load(f)
    with open(os.path.join(jobdir, "preprocessing.json")) as f:
        prep = json.load(f)
    if args.threads:
        torch.set_num_threads(args.threads)
    rank, world, device = setup()
    say = (lambda *a: print(*a, flush=True)) if rank == 0 else (lambda *a: None)
    s = job["settings"]
    seed = s["seed"]
    batch = args.batch or s["batchSize"]
    shards = {k: [os.path.join(jobdir, "shards", x["file"]) for x in job["shards"][k]] for k in ("train", "val")}
    counts = {k: {os.path.join(jobdir, "shards", x["file"]): x["count"] for x in job["shards"][k]} for k in ("train", "val")}
    if len(shards["train"]) < world:
        raise SystemExit(f"{len(shards['train'])} training shards cannot feed {world} processes: export with a smaller --shard-size")
    os.makedirs(out, exist_ok=True)

    if args.bench_reader:
        mine = rank_shards(shards["train"], 0, seed, rank, world)[rank]
        stream = ShardStream(mine, prep, prep.get("augment"), prep.get("pca"), seed, False)
        loader = torch.utils.data.DataLoader(stream, batch_size=batch, collate_fn=collate, num_workers=args.workers)
        t0, n = time.time(), 0
        for x, _y, _k in loader:
            n += x.shape[0]
        dt = time.time() - t0
        tot = all_sum([n, dt], device, world)
        if rank == 0:
            print(json.dumps({"ranks": world, "images": int(tot[0]), "imagesPerSecPerRank": tot[0] / tot[1], "imagesPerSec": tot[0] / (tot[1] / world)}), flush=True)
        if world > 1:
            dist.destroy_process_group()
        return

    recipe = job["recipe"]
    stages = [("head", args.head_epochs if args.head_epochs is not None else s["headEpochs"]), ("finetune", args.epochs if args.epochs is not None else s["epochs"])] if recipe == "transfer" else [("main", args.epochs if args.epochs is not None else s["epochs"])]
    base_lr = args.lr or s["lr"]
    net = init_model(job, jobdir, seed).to(device)
    weights = class_weights(job["classCounts"]["train"]).to(device)

    ckpt_file = os.path.join(out, "checkpoint.pt")
    st = {"stage": 0, "stageEpoch": 0, "epoch": 0, "lr": base_lr, "best": None, "bestEpoch": 0, "plateau": 0, "earlyStop": 0, "lrDrops": 0, "metrics": [], "optimizer": None}
    if args.resume and not os.path.exists(ckpt_file):
        say(f"--resume: no checkpoint at {ckpt_file} yet, starting from the beginning")
    elif args.resume:
        ck = torch.load(ckpt_file, map_location="cpu", weights_only=False)
        net.load_state_dict(ck["model"])
        st = ck["state"]
        say(f"resuming after epoch {st['epoch']} (stage {stages[st['stage']][0] if st['stage'] < len(stages) else 'done'})")
    with open(os.path.join(out, "metrics.jsonl"), "w") as f:  # the resumed run's earlier epochs, then new ones
        for m in st["metrics"]:
            f.write(json.dumps(m) + "\n")

    ran = 0
    while st["stage"] < len(stages) and (args.stop_after is None or ran < args.stop_after):
        stage, epochs = stages[st["stage"]]
        if st["stageEpoch"] >= epochs:
            st.update(stage=st["stage"] + 1, stageEpoch=0, plateau=0, earlyStop=0, lrDrops=0, optimizer=None, lr=base_lr)
            continue
        opt = make_optimizer(net, stage, st["lr"], s.get("fineTune", "fc"))
        if st["optimizer"] is not None:
            opt.load_state_dict(st["optimizer"])
            set_lr(opt, st["lr"])
        model = torch.nn.parallel.DistributedDataParallel(net) if world > 1 else net
        epoch = st["epoch"] + 1
        t0 = time.time()
        # --- train: this epoch's shards for this rank, the same number of steps on every rank
        assign = rank_shards(shards["train"], epoch, seed, rank, world)
        steps = min(math.ceil(sum(counts["train"][x] for x in a) / batch) for a in assign)
        stream = ShardStream(assign[rank], prep, prep.get("augment"), prep.get("pca"), seed * 100003 + epoch * 101 + rank, True)
        loader = torch.utils.data.DataLoader(stream, batch_size=batch, collate_fn=collate, num_workers=args.workers)
        model.train()
        loss_sum = correct = seen = 0.0
        read_keys = []
        for i, (x, y, keys) in enumerate(loader):
            if i >= steps:
                break
            x, y = x.to(device), y.to(device)
            logits = model(x)
            loss = F.cross_entropy(logits, y, weight=weights)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += loss.item() * len(y)
            correct += (logits.argmax(1) == y).sum().item()
            seen += len(y)
            read_keys.extend(keys)
        train_seconds = time.time() - t0
        with open(os.path.join(out, f"read-rank{rank}-epoch{epoch}.json"), "w") as f:
            json.dump({"rank": rank, "world": world, "shards": [os.path.basename(x) for x in assign[rank]], "keys": read_keys}, f)
        # --- validate: every validation shard once, split among ranks, sums reduced
        vl, vc, v5, vn = evaluate(net, shards["val"], prep, device, rank, world, batch, args.workers)
        tl, tc, tn, tsec = all_sum([loss_sum, correct, seen, train_seconds], device, world)
        vl, vc, v5, vn = all_sum([vl, vc, v5, vn], device, world)
        m = {
            "epoch": epoch, "stage": stage, "trainLoss": tl / max(tn, 1), "trainAcc": tc / max(tn, 1),
            "valLoss": vl / max(vn, 1), "valAcc": vc / max(vn, 1), "valTop5": v5 / max(vn, 1), "lr": st["lr"],
            "seconds": time.time() - t0, "trainImages": int(tn), "imagesPerSecPerProcess": tn / max(tsec, 1e-9),
            "processes": world,
        }
        # --- the plateau schedule, best weights, early stopping
        improved = st["best"] is None or m["valLoss"] < st["best"] * (1 - MIN_DELTA)
        m["best"] = improved
        if improved:
            st.update(best=m["valLoss"], bestEpoch=epoch, plateau=0, earlyStop=0)
            if rank == 0:
                save_safetensors(net.state_dict(), os.path.join(out, "best.safetensors"), {"epoch": epoch})
        else:
            st["plateau"] += 1
            st["earlyStop"] += 1
        st["metrics"].append(m)
        st.update(epoch=epoch, stageEpoch=st["stageEpoch"] + 1)
        if st["plateau"] >= LR_PATIENCE and st["lrDrops"] < MAX_LR_DROPS:
            st.update(lr=st["lr"] * LR_FACTOR, lrDrops=st["lrDrops"] + 1, plateau=0)
        if EARLY_STOP_PATIENCE and st["earlyStop"] >= EARLY_STOP_PATIENCE:
            say(f"early stop at epoch {epoch} (best {st['bestEpoch']})")
            st["stageEpoch"] = epochs
        st["optimizer"] = opt.state_dict()
        say(f"epoch {epoch} [{stage}] train loss {m['trainLoss']:.4f} acc {m['trainAcc']:.3f} | val loss {m['valLoss']:.4f} acc {m['valAcc']:.3f} | {m['imagesPerSecPerProcess']:.1f} img/s per process x {world}{' *best' if improved else ''}")
        if rank == 0:
            with open(os.path.join(out, "metrics.jsonl"), "a") as f:
                f.write(json.dumps(m) + "\n")
            tmp = ckpt_file + ".tmp"
            torch.save({"model": net.state_dict(), "state": st}, tmp)
            os.replace(tmp, ckpt_file)  # a job killed now keeps the previous checkpoint whole
        if world > 1:
            dist.barrier()
        ran += 1

    if st["stage"] >= len(stages) and rank == 0:
        finish(job, jobdir, out, prep, device, batch)
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()


def evaluate(net, val_shards, prep, device, rank, world, batch, workers):
    """Sums over this rank's share of the validation shards: loss, top-1 and top-5 hits, count."""
    net.eval()
    mine = val_shards[rank::world]
    loader = torch.utils.data.DataLoader(ShardStream(mine, prep, None, None, 0, False), batch_size=batch, collate_fn=collate, num_workers=workers)
    loss = c1 = c5 = n = 0.0
    with torch.no_grad():
        for x, y, _k in loader:
            x, y = x.to(device), y.to(device)
            logits = net(x)
            loss += F.cross_entropy(logits, y, reduction="sum").item()
            c1 += (logits.argmax(1) == y).sum().item()
            top = logits.topk(min(5, logits.shape[1]), 1).indices
            c5 += (top == y[:, None]).any(1).sum().item()
            n += len(y)
    net.train()
    return loss, c1, c5, n


def finish(job, jobdir, out, prep, device, batch):
    """The best epoch's model as ONNX and safetensors, with its labels, preprocessing, job and the
    validation photos' predictions (key, photo id, probabilities) for checking the import."""
    net = AlexNet(job["model"])
    net.load_state_dict(load_safetensors(os.path.join(out, "best.safetensors")))
    net = net.eval()
    save_safetensors(net.state_dict(), os.path.join(out, "model.safetensors"))
    export_onnx(net, os.path.join(out, "model.onnx"))
    for name in ("labels.json", "preprocessing.json", "job.json"):
        with open(os.path.join(jobdir, name), "rb") as src, open(os.path.join(out, name), "wb") as dst:
            dst.write(src.read())
    shards = [os.path.join(jobdir, "shards", x["file"]) for x in job["shards"]["val"]]
    with open(os.path.join(out, "predictions.jsonl"), "w") as f, torch.no_grad():
        for shard in shards:
            for key, data, _ext, label in read_shard(shard):
                x = to_input(decode(data, prep), prep, random.Random(0), None, None)[None]
                p = torch.softmax(net(x), 1)[0]
                f.write(json.dumps({"key": key, "label": label, "probs": p.tolist()}) + "\n")
    print(f"result in {out}: model.onnx, model.safetensors, metrics.jsonl, labels.json", flush=True)


if __name__ == "__main__":
    main()
