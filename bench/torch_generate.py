"""PyTorch reference for bench/generate.ts: greedy generation on the GPT-2 124M shape (random
weights, written from the published architecture as nanoGPT does), batch 1, with a KV cache and
without, the same prompt and lengths as the TypeScript side, logits of the last position only.

Run by bench/generate.ts (Debian python3-torch): /usr/bin/python3 bench/torch_generate.py
PROMPT NEW ROUNDS UNCACHED_ROUNDS; TORCH_THREADS sets torch.set_num_threads. Prints one JSON line
{"torch", "threads", "cached_s": [...], "uncached_s": [...]}: seconds per generate call.
"""
import json
import math
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

V, N_POS, D, L, H = 50257, 1024, 768, 12, 12


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln_1, self.ln_2 = nn.LayerNorm(D), nn.LayerNorm(D)
        self.c_attn, self.c_proj = nn.Linear(D, 3 * D), nn.Linear(D, D)
        self.c_fc, self.mlp_proj = nn.Linear(D, 4 * D), nn.Linear(4 * D, D)

    def forward(self, x, past):
        B, T, _ = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(D, dim=2)
        q, k, v = (t.view(B, T, H, D // H).transpose(1, 2) for t in (q, k, v))  # [B, H, T, hs]
        if past is not None:
            k, v = torch.cat([past[0], k], 2), torch.cat([past[1], v], 2)
        P = k.shape[2] - T
        att = (q @ k.transpose(-2, -1)) / math.sqrt(D // H)  # [B, H, T, P+T]
        if T > 1:
            mask = torch.ones(T, P + T, dtype=torch.bool).tril(P)
            att = att.masked_fill(~mask, float("-inf"))
        y = (att.softmax(-1) @ v).transpose(1, 2).reshape(B, T, D)
        x = x + self.c_proj(y)
        x = x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))
        return x, (k, v)


class GPT2(nn.Module):
    def __init__(self):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(V, D), nn.Embedding(N_POS, D)
        self.h = nn.ModuleList(Block() for _ in range(L))
        self.ln_f = nn.LayerNorm(D)
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.normal_(p, std=0.02)

    def forward(self, ids, cache=None):
        P = 0 if cache is None else cache[0][0].shape[2]
        pos = torch.arange(P, P + ids.shape[1])
        x = self.wte(ids) + self.wpe(pos)
        new = []
        for i, block in enumerate(self.h):
            x, kv = block(x, None if cache is None else cache[i])
            new.append(kv)
        # Tied head on the last position only, as transformers' generate (logits_to_keep=1) and lora-lab's.
        return self.ln_f(x[:, -1:]) @ self.wte.weight.T, new


@torch.no_grad()
def generate(model, prompt, n, use_cache):
    ids, cache = prompt, None
    for _ in range(n):
        if use_cache:
            logits, cache = model(ids if cache is None else ids[:, -1:], cache)
        else:
            logits, _ = model(ids)
        ids = torch.cat([ids, logits[:, -1].argmax(-1, keepdim=True)], 1)
    return ids


def main():
    prompt_len, new, rounds, uncached_rounds = (int(a) for a in sys.argv[1:5])
    torch.set_num_threads(int(os.environ.get("TORCH_THREADS", "2")))
    torch.manual_seed(0)
    model = GPT2().eval()
    prompt = torch.randint(0, V, (1, prompt_len))
    times = {"cached_s": [], "uncached_s": []}
    generate(model, prompt, 4, True)  # warm-up
    for key, use_cache, n in (("cached_s", True, rounds), ("uncached_s", False, uncached_rounds)):
        for _ in range(n):
            start = time.perf_counter()
            out = generate(model, prompt, new, use_cache)
            times[key].append(time.perf_counter() - start)
            assert out.shape[1] == prompt_len + new
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), **times}), flush=True)


if __name__ == "__main__":
    main()
