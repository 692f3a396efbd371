"""AlexNet (Krizhevsky, Sutskever & Hinton, NIPS 2012) in PyTorch, layer for layer as AlexNet Studio
builds it in TensorFlow.js (ml/model.ts): 5 conv + 3 FC, ReLU, the paper's LRN after conv1 and conv2
(alpha divided by n, as PyTorch's LocalResponseNorm does), overlapping 3x3/2 max-pooling, dropout in
fc6 and fc7, and the "two-GPU" grouped conv2, conv4 and conv5.

Same layer names as the app (conv1 ... fc8); the app's `conv1.w` / `conv1.b` are `conv1.weight` /
`conv1.bias` here, in PyTorch's layouts (OIHW filters, [out, in] matrices, fc6's inputs in NCHW
order), which is how `weights/start.safetensors` stores them.

Input: float32 [N, 3, S, S] (NCHW), already preprocessed as preprocessing.json says.
Output: logits [N, classes] (no softmax).

Run as a script, it checks a weights file against a batch: python alexnet.py CONFIG.json
WEIGHTS.safetensors INPUT.f32 OUTPUT.f32 reads raw little-endian float32 NCHW input and writes the
logits the same way (the app's tests compare them with its own engine).
"""
import json
import os
import struct
import sys

import numpy
import torch
import torch.nn as nn
import torch.nn.functional as F


class _Lrn(torch.autograd.Function):
    """Used only while exporting ONNX: its export is the standard LRN op (PyTorch's own
    LocalResponseNorm exports as a chain of Pow/Pad/AveragePool)."""

    @staticmethod
    def forward(ctx, x, size, alpha, beta, k):
        return F.local_response_norm(x, size, alpha, beta, k)

    @staticmethod
    def symbolic(g, x, size, alpha, beta, k):
        return g.op("LRN", x, alpha_f=alpha, beta_f=beta, bias_f=k, size_i=size)


class LRN(nn.Module):
    """b_c = a_c / (k + alpha/n * sum of a^2 over the n channels around c)^beta (paper 3.3)."""

    def __init__(self, size, alpha, beta, k):
        super().__init__()
        self.size, self.alpha, self.beta, self.k = int(size), float(alpha), float(beta), float(k)

    def forward(self, x):
        if torch.onnx.is_in_onnx_export():
            return _Lrn.apply(x, self.size, self.alpha, self.beta, self.k)
        return F.local_response_norm(x, self.size, self.alpha, self.beta, self.k)


# kernel, stride, padding, grouped (the two-GPU split) of conv1..conv5: ml/config.ts CONV_SPECS
CONV_SPECS = [(11, 4, 0, False), (5, 1, 2, True), (3, 1, 1, False), (3, 1, 1, True), (3, 1, 1, True)]


class AlexNet(nn.Module):
    def __init__(self, config):
        """config: the app's AlexNetConfig (job.json "model"): numClasses, inputSize, channels,
        fcUnits, groups, lrn {size, k, alpha, beta} or null, overlappingPool, activation, dropout."""
        super().__init__()
        self.config = config
        ch = config["channels"]
        cin = 3
        for i, (kernel, stride, pad, grouped) in enumerate(CONV_SPECS):
            g = config["groups"] if grouped else 1
            setattr(self, f"conv{i + 1}", nn.Conv2d(cin, ch[i], kernel, stride, pad, groups=g))
            cin = ch[i]
        lrn = config.get("lrn")
        self.norm1 = LRN(lrn["size"], lrn["alpha"], lrn["beta"], lrn["k"]) if lrn else nn.Identity()
        self.norm2 = LRN(lrn["size"], lrn["alpha"], lrn["beta"], lrn["k"]) if lrn else nn.Identity()
        self.pool = nn.MaxPool2d(3, 2) if config["overlappingPool"] else nn.MaxPool2d(2, 2)
        side = pool5_side(config)
        units = config["fcUnits"]
        self.fc6 = nn.Linear(ch[4] * side * side, units)
        self.fc7 = nn.Linear(units, units)
        self.fc8 = nn.Linear(units, config["numClasses"])
        self.act = nn.ReLU() if config["activation"] == "relu" else nn.Tanh()
        self.drop = nn.Dropout(config["dropout"])

    def features(self, x):
        """[N, 3, S, S] -> pool5 [N, C5, s, s] (6 x 6 x 256 for the paper's network)."""
        x = self.pool(self.norm1(self.act(self.conv1(x))))
        x = self.pool(self.norm2(self.act(self.conv2(x))))
        x = self.act(self.conv3(x))
        x = self.act(self.conv4(x))
        return self.pool(self.act(self.conv5(x)))

    def classifier(self, f):
        """pool5 [N, C5, s, s] -> logits [N, classes]; flattened in NCHW order (c, h, w)."""
        h = torch.flatten(f, 1)
        h = self.drop(self.act(self.fc6(h)))
        h = self.drop(self.act(self.fc7(h)))
        return self.fc8(h)

    def forward(self, x):
        return self.classifier(self.features(x))


def pool5_side(config):
    s = config["inputSize"]
    k, st = (3, 2) if config["overlappingPool"] else (2, 2)
    s = (s - 11) // 4 + 1  # conv1
    s = (s - k) // st + 1  # pool1
    s = (s - k) // st + 1  # pool2 (conv2..5 keep the size)
    return (s - k) // st + 1  # pool5


# ------------------------------------------------------------------------------------------------
# safetensors, read and written with the standard library (the format: 8-byte little-endian header
# length, a JSON header {name: {dtype, shape, data_offsets}}, then the raw little-endian data).


def load_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    out = {}
    base = 8 + n
    for name, t in header.items():
        if name == "__metadata__":
            continue
        if t["dtype"] != "F32":
            raise ValueError(f"{path}: tensor {name} is {t['dtype']}, only F32 is read")
        a, b = t["data_offsets"]
        out[name] = torch.from_numpy(numpy.frombuffer(data, dtype="<f4", count=(b - a) // 4, offset=base + a).copy()).reshape(t["shape"])
    return out


def save_safetensors(tensors, path, metadata=None):
    header = {}
    offset = 0
    blobs = []
    for name, t in tensors.items():
        b = t.detach().to(torch.float32).contiguous().cpu().numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)  # the data starts 8-byte aligned
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def export_onnx(model, path, opset=13):
    """The model as ONNX with standard ops only: Conv (group=2 on conv2/4/5), Relu, LRN, MaxPool,
    Flatten, Gemm. Input 'data' [N, 3, S, S], output 'logits' [N, classes]."""
    model = model.eval()
    s = model.config["inputSize"]
    torch.onnx.export(
        model,
        (torch.zeros(1, 3, s, s),),
        path,
        dynamo=False,
        input_names=["data"],
        output_names=["logits"],
        dynamic_axes={"data": {0: "N"}, "logits": {0: "N"}},
        opset_version=opset,
    )


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit("usage: python alexnet.py CONFIG.json WEIGHTS.safetensors INPUT.f32 OUTPUT.f32")
    cfg_file, weights, inp, outp = sys.argv[1:]
    with open(cfg_file) as f:
        cfg = json.load(f)
    cfg = cfg.get("model", cfg)
    net = AlexNet(cfg).eval()
    net.load_state_dict(load_safetensors(weights))
    s = cfg["inputSize"]
    with open(inp, "rb") as f:
        x = torch.from_numpy(numpy.frombuffer(f.read(), dtype="<f4").copy()).reshape(-1, 3, s, s)
    with torch.no_grad():
        y = net(x)
    with open(outp, "wb") as f:
        f.write(y.contiguous().numpy().tobytes())
