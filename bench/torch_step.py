"""PyTorch reference for bench/train-step.ts: the same models, steps and AdamW as bench/rows.ts.

Run by the TypeScript bench as a long-lived child (Debian python3-torch, OMP_WAIT_POLICY=PASSIVE):
it reads lines "ROW STEPS BATCH [SEQ]" on stdin and answers one JSON line {"row", "ms": [per-step
ms], "loss", "firstLoss", "params", "trainable"} each, so the two engines can be timed interleaved
in one run and their parameter counts compared; the first request for a row builds it and takes
one untimed warm-up step (its loss is firstLoss). "free ROW" drops a row's model (answer
{"freed": ROW}). Rows: {tiny,small}-{full,lora,qlora}, t5-tiny-{full,lora}, and the real-scale
gpt2-124m-{full,lora,qlora}: the full row with torch.utils.checkpoint per block (as lora-lab's
setGradientCheckpointing), and gpt2-124m-full-nockpt, the same model and optimizer stepped
without checkpointing (PyTorch's usual way, for the ratio against it); and smollm2-135m-lora, the
SmolLM2-135M shape with LoRA r8 on q_proj, v_proj of every layer, checkpointed per layer (and
smollm2-135m-lora-nockpt without), run by the LLaMA reference of
tests/fixtures/make_llama_golden.py (RMSNorm, RoPE, SwiGLU, grouped-query attention, causal mask,
tied head) in float32.

QLoRA here is what bitsandbytes does on a CPU: the frozen weights are kept as packed NF4 codes
(two per byte, first in the high nibble), one absmax per block of 64 stored double-quantized (8-bit
codes of the signed dynamic map, blocks of 256, plus their mean), and dequantized to float32 with
plain tensor ops inside every forward; the LoRA path runs in float32 beside it.
"""
import json
import math
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures"))
from make_llama_golden import forward as llama_forward, make_weights as llama_weights  # noqa: E402

SHAPES = {
    "tiny": dict(V=256, T=64, d=128, L=4, H=4),
    "small": dict(V=2048, T=128, d=256, L=6, H=8),
    "gpt2-124m": dict(V=50257, T=1024, d=768, L=12, H=12),  # GPT2Config.preset("gpt2")
}
# HuggingFaceTB/SmolLM2-135M's config.json (lora-lab's LlamaConfig.preset("smollm2-135m")).
SMOLLM2_135M = dict(model_type="llama", vocab_size=49152, hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
                    num_attention_heads=9, num_key_value_heads=3, rms_norm_eps=1e-5, rope_theta=100000.0,
                    tie_word_embeddings=True, initializer_range=0.041666666666666664)
CHECKPOINTED = {"gpt2-124m-full", "smollm2-135m-lora"}  # bench/rows.ts's rows with checkpointing: true
# lora-lab's T5_PRESETS.tiny (src/models/t5_config.ts) and bench/rows.ts's T5_LENGTHS.
T5_TINY = dict(V=256, d=64, dkv=16, ff=128, L=2, Ld=2, H=4, buckets=16, max_distance=64, eps=1e-6,
               act="relu", tied=True, S=64, T=64)

# bitsandbytes' NF4 table (src/quant/codes.ts NF4_CODE).
NF4 = torch.tensor([
    -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
    -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
    0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
    0.7229568362236023, 1.0,
])


def signed_dynamic_map():
    """bitsandbytes' create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8)."""
    data = []
    for i in range(7):
        b = torch.linspace(0.1, 1, 2 ** i + 1)
        means = (b[:-1] + b[1:]) / 2.0
        data += (10 ** (i - 6) * means).tolist() + (-(10 ** (i - 6)) * means).tolist()
    return torch.tensor(sorted(data + [0.0, 1.0]))


DYNAMIC = signed_dynamic_map()


def nearest(values, code):
    return (values.unsqueeze(-1) - code).abs().argmin(-1).to(torch.uint8)


def blockwise(values, blocksize, code):
    """absmax per block and the nearest code of every value (values padded to whole blocks)."""
    n = values.numel()
    padded = F.pad(values.reshape(-1), (0, -n % blocksize)).view(-1, blocksize)
    absmax = padded.abs().amax(1)
    scaled = (padded / absmax.clamp_min(1e-30)[:, None]).clamp(-1, 1)
    return nearest(scaled, code).reshape(-1)[:n], absmax


class Linear4bit(nn.Module):
    """A frozen linear layer over packed NF4 storage, dequantized in every forward (+ optional LoRA)."""

    def __init__(self, weight_out_in, bias, blocksize=64):
        super().__init__()
        self.shape = tuple(weight_out_in.shape)
        self.blocksize = blocksize
        codes, absmax = blockwise(weight_out_in.detach(), blocksize, NF4)
        codes = F.pad(codes, (0, codes.numel() % 2))
        self.register_buffer("packed", (codes[0::2] << 4) | codes[1::2])
        offset = absmax.mean()
        codes2, absmax2 = blockwise(absmax - offset, 256, DYNAMIC)
        self.register_buffer("codes2", codes2)
        self.register_buffer("absmax2", absmax2)
        self.register_buffer("offset", offset)
        self.bias = None if bias is None else nn.Parameter(bias.detach().clone(), requires_grad=False)
        self.lora = None

    def weight(self):
        """bitsandbytes' CPU dequantize_4bit: unpack the nibbles, look the codes up, scale each block in place."""
        absmax = DYNAMIC[self.codes2.long()] * self.absmax2.repeat_interleave(256)[: self.codes2.numel()] + self.offset
        idx = torch.empty(self.packed.numel() * 2, dtype=torch.long)
        idx[0::2] = self.packed >> 4
        idx[1::2] = self.packed & 0x0F
        n = self.shape[0] * self.shape[1]
        w = NF4[idx]
        full = n - n % self.blocksize
        w[:full].view(-1, self.blocksize).mul_(absmax[: full // self.blocksize, None])
        if full < n:
            w[full:].mul_(absmax[-1])
        return w[:n].view(self.shape)

    def forward(self, x):
        y = F.linear(x, self.weight(), self.bias)
        if self.lora is not None:
            a, b, s = self.lora
            y = y + (x @ a.t()) @ b.t() * s
        return y


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

    def quantized(self):
        return Linear4bit(self.weight.t(), self.bias)


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
        self.checkpointing = False

    def forward(self, ids, targets):
        T = ids.shape[1]
        x = self.wte[ids] + self.wpe[:T]
        for b in self.h:
            if self.checkpointing and self.training:
                # Reentrant, transformers' default: the block runs again in the backward pass.
                x = torch.utils.checkpoint.checkpoint(b, x, self.mask[:T, :T], use_reentrant=True)
            else:
                x = b(x, self.mask[:T, :T])
        logits = self.ln_f(x) @ self.wte.t()  # tied LM head
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))

    def quantize(self):
        """quantizeModel's default: every Conv1D becomes 4-bit; the tied embedding / head stays float."""
        for blk in self.h:
            for name in ("c_attn", "c_proj", "c_fc", "mlp_proj"):
                setattr(blk, name, getattr(blk, name).quantized())


class Linear(nn.Module):
    """T5's bias-free linear, weight [out, in], with an optional LoRA path."""

    def __init__(self, n_in, n_out, std):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(n_out, n_in) * std)
        self.lora = None

    def forward(self, x):
        y = F.linear(x, self.weight)
        if self.lora is not None:
            a, b, s = self.lora
            y = y + (x @ a.t()) @ b.t() * s
        return y


class RMSNorm(nn.Module):
    """T5's LayerNorm: scale only, no mean subtraction, no bias."""

    def __init__(self, d, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))


def relative_position_bucket(rel, bidirectional, num_buckets, max_distance):
    """Hugging Face's T5Attention._relative_position_bucket."""
    bucket = torch.zeros_like(rel)
    if bidirectional:
        num_buckets //= 2
        bucket += (rel > 0).long() * num_buckets
        n = rel.abs()
    else:
        n = -torch.min(rel, torch.zeros_like(rel))
    max_exact = num_buckets // 2
    large = max_exact + (torch.log(n.float() / max_exact) / math.log(max_distance / max_exact) * (num_buckets - max_exact)).long()
    large = torch.min(large, torch.full_like(large, num_buckets - 1))
    return bucket + torch.where(n < max_exact, n, large)


class T5Attention(nn.Module):
    def __init__(self, c, is_decoder, has_bias):
        super().__init__()
        d, inner = c["d"], c["H"] * c["dkv"]
        self.c, self.is_decoder = c, is_decoder
        # Mesh TensorFlow's init: the 1/sqrt(d_kv) of scaled attention lives in q's std.
        self.q = Linear(d, inner, (d * c["dkv"]) ** -0.5)
        self.k = Linear(d, inner, d ** -0.5)
        self.v = Linear(d, inner, d ** -0.5)
        self.o = Linear(inner, d, inner ** -0.5)
        self.rel = nn.Parameter(torch.randn(c["buckets"], c["H"]) * d ** -0.5) if has_bias else None

    def position_bias(self, Tq, Tk):
        rel = torch.arange(Tk)[None, :] - torch.arange(Tq)[:, None]
        b = relative_position_bucket(rel, not self.is_decoder, self.c["buckets"], self.c["max_distance"])
        return self.rel[b].permute(2, 0, 1).unsqueeze(0)  # [1, H, Tq, Tk]

    def forward(self, x, bias, kv=None):
        H, dkv = self.c["H"], self.c["dkv"]
        src = x if kv is None else kv
        B, Tq, Tk = x.shape[0], x.shape[1], src.shape[1]
        q = self.q(x).view(B, Tq, H, dkv).transpose(1, 2)
        k = self.k(src).view(B, Tk, H, dkv).transpose(1, 2)
        v = self.v(src).view(B, Tk, H, dkv).transpose(1, 2)
        att = (q @ k.transpose(-2, -1) + bias).softmax(-1)  # unscaled, as T5
        return self.o((att @ v).transpose(1, 2).reshape(B, Tq, H * dkv))


class T5FF(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, ff = c["d"], c["ff"]
        self.gated = c["act"].startswith("gated-")
        self.wi = Linear(d, ff, d ** -0.5)
        self.wi_1 = Linear(d, ff, d ** -0.5) if self.gated else None
        self.wo = Linear(ff, d, ff ** -0.5)

    def forward(self, x):
        h = F.gelu(self.wi(x), approximate="tanh") * self.wi_1(x) if self.gated else F.relu(self.wi(x))
        return self.wo(h)


class T5Block(nn.Module):
    def __init__(self, c, is_decoder, has_bias):
        super().__init__()
        self.ln_self, self.self_att = RMSNorm(c["d"], c["eps"]), T5Attention(c, is_decoder, has_bias)
        self.ln_cross = RMSNorm(c["d"], c["eps"]) if is_decoder else None
        self.cross = T5Attention(c, True, False) if is_decoder else None
        self.ln_ff, self.ff = RMSNorm(c["d"], c["eps"]), T5FF(c)

    def forward(self, x, self_bias, enc=None, cross_bias=None):
        x = x + self.self_att(self.ln_self(x), self_bias)
        if self.cross is not None:
            x = x + self.cross(self.ln_cross(x), cross_bias, enc)
        return x + self.ff(self.ln_ff(x))


class T5Stack(nn.Module):
    def __init__(self, c, is_decoder):
        super().__init__()
        self.is_decoder = is_decoder
        self.block = nn.ModuleList(T5Block(c, is_decoder, i == 0) for i in range(c["Ld"] if is_decoder else c["L"]))
        self.final = RMSNorm(c["d"], c["eps"])

    def forward(self, x, enc=None):
        T = x.shape[1]
        # The first block's table gives the position bias every block of the stack adds.
        bias = self.block[0].self_att.position_bias(T, T)
        cross_bias = None
        if self.is_decoder:
            bias = bias + torch.triu(torch.full((T, T), -1e9), 1)
            cross_bias = torch.zeros(1, 1, 1, enc.shape[1])
        for blk in self.block:
            x = blk(x, bias, enc, cross_bias)
        return self.final(x)


class T5(nn.Module):
    """T5ForConditionalGeneration: shared embedding, encoder, decoder, (tied) LM head."""

    def __init__(self, c):
        super().__init__()
        self.c = c
        self.shared = nn.Parameter(torch.randn(c["V"], c["d"]))
        self.encoder, self.decoder = T5Stack(c, False), T5Stack(c, True)
        self.lm_head = None if c["tied"] else nn.Parameter(torch.randn(c["V"], c["d"]))

    def attentions(self):
        return [m for m in self.modules() if isinstance(m, T5Attention)]

    def forward(self, ids, labels):
        enc = self.encoder(self.shared[ids])
        # Decoder input: the start token (0, the pad id), then the labels without their last token.
        dec_ids = torch.cat([torch.zeros_like(labels[:, :1]), labels[:, :-1]], 1)
        h = self.decoder(self.shared[dec_ids], enc)
        if self.c["tied"]:
            logits = (h * self.c["d"] ** -0.5) @ self.shared.t()  # Mesh TF's rescale before a tied head
        else:
            logits = h @ self.lm_head.t()
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1))


def lora_pair(n_in, n_out, r=8):
    return nn.Parameter(torch.randn(r, n_in) * 0.01), nn.Parameter(torch.zeros(n_out, r))


def shifted_ids(B, T, V):
    """bench/rows.ts's ids: (i * 7 + 3) mod V, and as targets the same sequence shifted by one."""
    ids = lambda off: torch.tensor([((i + off) * 7 + 3) % V for i in range(B * T)]).view(B, T)
    return ids(0), ids(1)


def make_gpt(size, mode, B, seq):
    s = SHAPES[size]
    model = GPT(**s)
    if mode == "qlora":
        model.quantize()
    params = list(model.parameters())
    if mode != "full":
        for p in model.parameters():
            p.requires_grad_(False)
        params = []
        for blk in model.h[s["L"] // 2:]:
            a, b = lora_pair(s["d"], 3 * s["d"])
            blk.c_attn.lora = (a, b, 16 / 8)
            params += [a, b]
    return model, params, shifted_ids(B, seq or s["T"], s["V"])


def make_t5(mode, B):
    c = T5_TINY
    model = T5(c)
    params = list(model.parameters())
    if mode == "lora":
        for p in model.parameters():
            p.requires_grad_(False)
        params = []
        for att in model.attentions():
            for lin in (att.q, att.v):
                a, b = lora_pair(c["d"], c["H"] * c["dkv"])
                lin.lora = (a, b, 16 / 8)
                params += [a, b]
    ids = lambda T, off: torch.tensor([2 + ((i + off) * 7 + 3) % (c["V"] - 2) for i in range(B * T)]).view(B, T)
    return model, params, (ids(c["S"], 0), ids(c["T"], 1))


class Llama(nn.Module):
    """LlamaForCausalLM's loss by make_llama_golden's forward in float32: frozen base, LoRA on q_proj / v_proj."""

    def __init__(self, cfg, r=8, alpha=16):
        super().__init__()
        self.cfg, self.checkpointing = cfg, False
        # transformers' _init_weights: normal(0, initializer_range) for linears and the embedding, norms at 1.
        W = llama_weights(cfg)
        for name, t in W.items():
            if name.endswith("norm.weight"):
                t.fill_(1.0)
            else:
                t.normal_(0.0, cfg["initializer_range"])
        self.names = sorted(W)
        self.base = nn.ParameterList(nn.Parameter(W[n], requires_grad=False) for n in self.names)
        C, hd = cfg["hidden_size"], cfg["hidden_size"] // cfg["num_attention_heads"]
        self.lora = {}
        for i in range(cfg["num_hidden_layers"]):
            for proj, out in (("q_proj", cfg["num_attention_heads"] * hd), ("v_proj", cfg["num_key_value_heads"] * hd)):
                self.lora[f"model.layers.{i}.self_attn.{proj}"] = (*lora_pair(C, out, r), alpha / r)
        self.adapters = nn.ParameterList(p for a, b, _ in self.lora.values() for p in (a, b))

    def forward(self, ids, targets):
        # Non-reentrant: the layers' inputs do not require grad (frozen embedding), the adapters inside do.
        ckpt = None
        if self.checkpointing and self.training:
            ckpt = lambda layer, x, i: torch.utils.checkpoint.checkpoint(layer, x, i, use_reentrant=False)  # noqa: E731
        logits = llama_forward(self.cfg, dict(zip(self.names, self.base)), ids, dtype=torch.float32, lora=self.lora, checkpoint=ckpt)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def make_llama(B, seq):
    cfg = SMOLLM2_135M
    model = Llama(cfg)
    return model, list(model.adapters), shifted_ids(B, seq, cfg["vocab_size"])


def count(model, params):
    tensors = {id(p): p for p in list(model.parameters()) + params}
    n = sum(p.numel() for p in tensors.values())
    n += sum(m.shape[0] * m.shape[1] for m in model.modules() if isinstance(m, Linear4bit))
    return n, sum(p.numel() for p in params)


def make(row, B=8, seq=None):
    """A step function of the row (taking whether to checkpoint) and its parameter counts."""
    torch.manual_seed(0)
    if row.startswith("t5-"):
        model, params, inputs = make_t5(row.split("-")[2], B)
    elif row == "smollm2-135m-lora":
        model, params, inputs = make_llama(B, seq)
    else:
        size, _, mode = row.rpartition("-")
        model, params, inputs = make_gpt(size, mode, B, seq)
    opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.01)

    def step(checkpointing):
        model.checkpointing = checkpointing
        loss = model(*inputs)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()

    return step, count(model, params)


def main():
    torch.set_num_threads(int(os.environ.get("TORCH_THREADS", "2")))
    steps = {}
    warm = set()
    print(json.dumps({"ready": True, "torch": torch.__version__, "threads": torch.get_num_threads()}), flush=True)
    for line in sys.stdin:
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "free":
            base = parts[1]
            steps.pop(base, None)
            warm -= {base, base + "-nockpt"}
            print(json.dumps({"freed": base}), flush=True)
            continue
        row, n = parts[0], int(parts[1])
        B = int(parts[2]) if len(parts) > 2 else 8
        seq = int(parts[3]) if len(parts) > 3 else None
        base = row.removesuffix("-nockpt")
        checkpointing = base in CHECKPOINTED and base == row
        if base not in steps:
            steps[base] = make(base, B, seq)
        step, (params, trainable) = steps[base]
        first = None
        if row not in warm:  # the first step of each way of stepping is untimed
            first = step(checkpointing)
            warm.add(row)
        times = []
        loss = first
        for _ in range(n):
            t0 = time.perf_counter()
            loss = step(checkpointing)
            times.append((time.perf_counter() - t0) * 1000)
        print(json.dumps({"row": row, "ms": times, "loss": loss, "firstLoss": first, "params": params, "trainable": trainable}), flush=True)


if __name__ == "__main__":
    main()
