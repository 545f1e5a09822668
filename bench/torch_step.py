"""PyTorch reference for bench/train-step.ts: the same GPT-2 shapes, steps and AdamW as bench/rows.ts.

Run by the TypeScript bench as a long-lived child (Debian python3-torch, OMP_WAIT_POLICY=PASSIVE):
it reads lines "ROW STEPS" on stdin and answers one JSON line {"row", "ms": [per-step ms]} each,
so the two engines can be timed interleaved in one run.
"""
import json
import math
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

SHAPES = {
    "tiny": dict(V=256, T=64, d=128, L=4, H=4),
    "small": dict(V=2048, T=128, d=256, L=6, H=8),
}


class Conv1D(nn.Module):
    """GPT-2's linear with the weight stored [in, out]."""

    def __init__(self, n_in, n_out):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(n_in, n_out) * 0.02)
        self.bias = nn.Parameter(torch.zeros(n_out))
        self.lora = None

    def forward(self, x):
        y = torch.addmm(self.bias, x.reshape(-1, x.shape[-1]), self.weight).reshape(*x.shape[:-1], -1)
        if self.lora is not None:
            a, b, s = self.lora
            y = y + (x @ a.t()) @ b.t() * s
        return y


class Block(nn.Module):
    def __init__(self, d, H):
        super().__init__()
        self.H = H
        self.ln_1 = nn.LayerNorm(d)
        self.c_attn = Conv1D(d, 3 * d)
        self.c_proj = Conv1D(d, d)
        self.ln_2 = nn.LayerNorm(d)
        self.c_fc = Conv1D(d, 4 * d)
        self.mlp_proj = Conv1D(4 * d, d)

    def forward(self, x, mask):
        B, T, C = x.shape
        hs = C // self.H
        q, k, v = self.c_attn(self.ln_1(x)).split(C, dim=-1)
        q, k, v = (t.view(B, T, self.H, hs).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(hs) + mask
        y = (att.softmax(-1) @ v).transpose(1, 2).reshape(B, T, C)
        x = x + self.c_proj(y)
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class GPT(nn.Module):
    def __init__(self, V, T, d, L, H):
        super().__init__()
        self.wte = nn.Parameter(torch.randn(V, d) * 0.02)
        self.wpe = nn.Parameter(torch.randn(T, d) * 0.01)
        self.h = nn.ModuleList(Block(d, H) for _ in range(L))
        self.ln_f = nn.LayerNorm(d)
        self.register_buffer("mask", torch.triu(torch.full((T, T), -1e9), 1))

    def forward(self, ids, targets):
        T = ids.shape[1]
        x = self.wte[ids] + self.wpe[:T]
        for b in self.h:
            x = b(x, self.mask[:T, :T])
        logits = self.ln_f(x) @ self.wte.t()  # tied LM head
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def make(row, B=8):
    size, mode = row.split("-")
    s = SHAPES[size]
    torch.manual_seed(0)
    model = GPT(**s)
    if mode == "lora":
        for p in model.parameters():
            p.requires_grad_(False)
        params = []
        for blk in model.h[s["L"] // 2:]:
            a = nn.Parameter(torch.randn(8, s["d"]) * 0.01)
            b = nn.Parameter(torch.zeros(3 * s["d"], 8))
            blk.c_attn.lora = (a, b, 16 / 8)
            params += [a, b]
    else:
        params = list(model.parameters())
    opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.01)
    n = B * s["T"]
    ids = torch.tensor([(i * 7 + 3) % s["V"] for i in range(n)]).view(B, s["T"])
    targets = torch.tensor([((i + 1) * 7 + 3) % s["V"] for i in range(n)]).view(B, s["T"])

    def step():
        loss = model(ids, targets)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()

    return step


def main():
    torch.set_num_threads(int(os.environ.get("TORCH_THREADS", "2")))
    steps = {}
    print(json.dumps({"ready": True, "torch": torch.__version__, "threads": torch.get_num_threads()}), flush=True)
    for line in sys.stdin:
        parts = line.split()
        if not parts:
            continue
        row, n = parts[0], int(parts[1])
        if row not in steps:
            steps[row] = make(row)
            steps[row]()
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            steps[row]()
            times.append((time.perf_counter() - t0) * 1000)
        print(json.dumps({"row": row, "ms": times}), flush=True)


if __name__ == "__main__":
    main()
