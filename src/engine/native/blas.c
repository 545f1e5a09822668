/*
 * lora-lab's optional native kernels: an N-API addon on the system's CBLAS (OpenBLAS). The wasm
 * backend keeps every tensor in its WebAssembly heap, one ArrayBuffer; this addon reads and writes
 * in place there (operands and outputs are byte offsets into that buffer), so no data is copied
 * between JavaScript, wasm and BLAS. Built by src/engine/native/build.mjs; never required.
 *
 * Laid out as llm.c's train_gpt2.c: first the kernels, plain C on pointers and sizes that know
 * nothing of N-API (each has a JavaScript twin of the same arguments in src/engine/kernels/);
 * then the N-API wrappers, each only unpacking its arguments, checking that every operand lies in
 * the heap, and calling its kernel.
 */
#include <node_api.h>
#include <cblas.h>
#include <stdint.h>
#include <math.h>
#include <string.h>
#include <stdlib.h>
#include <pthread.h>
#include <stdio.h>
#include <stdbool.h>

extern void openblas_set_num_threads(int);
extern int openblas_get_num_threads(void);

/* ------------------------------------------------------------------------------------------ */
/* Kernels                                                                                     */
/* ------------------------------------------------------------------------------------------ */

/*
 * C_i[m, n] = op(A_i) @ op(B_i) for i < batch, row-major, A_i = a + i * a_stride (a stride of 0
 * broadcasts one matrix over the batch).
 */
static void sgemm_batched(int64_t batch, int64_t m, int64_t n, int64_t k, const float* a, int64_t a_stride,
                          const float* b, int64_t b_stride, float* c, bool ta, bool tb) {
  if (k == 0) {
    memset(c, 0, sizeof(float) * (size_t)(batch * m * n));
    return;
  }
  int lda = ta ? (int)m : (int)k;
  int ldb = tb ? (int)k : (int)n;
  for (int64_t i = 0; i < batch; i++) {
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k,
                1.0f, a + i * a_stride, lda, b + i * b_stride, ldb, 0.0f, c + i * m * n, (int)n);
  }
}

/*
 * AdamW as torch.optim.AdamW over n elements into new buffers (p1, m1, v1); returns the sum of
 * squared changes of the parameter. decay = 1 - lr * weight_decay; bc1 and bc2 are the bias
 * corrections 1 - beta1^t and sqrt(1 - beta2^t).
 */
static double adamw_update(int64_t n, const float* p, const float* g, const float* m0, const float* v0, float* p1, float* m1,
                           float* v1, double lr, double beta1, double beta2, double eps, double decay, double bc1, double bc2) {
  const double step = lr / bc1, b1c = 1 - beta1, b2c = 1 - beta2;
  double sq = 0;
  /* The update norm is a statistic: its sum may be reordered, which lets the loop vectorise. */
#pragma omp simd reduction(+ : sq)
  for (int64_t i = 0; i < n; i++) {
    double gi = g[i];
    double mi = (float)(m0[i] + (gi - m0[i]) * b1c);
    double vi = (float)(v0[i] * beta2 + gi * gi * b2c);
    m1[i] = (float)mi;
    v1[i] = (float)vi;
    float next = (float)(p[i] * decay - (mi / (sqrt(vi) / bc2 + eps)) * step);
    p1[i] = next;
    double d = (double)next - p[i];
    sq += d * d;
  }
  return sq;
}

/*
 * expf for the elementwise kernels, written so that the compiler vectorises the loops around it
 * (libm's expf is a call per element; its vector form needs -ffast-math). Cephes' range reduction
 * x = n ln2 + r, |r| <= ln2/2, and its degree-6 polynomial: within 2 ulp of expf on [-87, 88].
 */
static inline float vexpf(float x) {
  x = x > 88.3762626647949f ? 88.3762626647949f : x;
  x = x < -87.3365447504f ? -87.3365447504f : x;
  float n = floorf(x * 1.44269504088896341f + 0.5f);
  float r = x - n * 0.693359375f;
  r = r + n * 2.12194440e-4f;
  float r2 = r * r;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  float e = p * r2 + r + 1.0f;
  int32_t bits = ((int32_t)n + 127) << 23;
  float scale;
  memcpy(&scale, &bits, sizeof scale);
  return e * scale;
}

#define GELU_K 0.7978845608028654f /* sqrt(2/pi) */
#define GELU_A 0.044715f

/*
 * e[i] = exp(-2z), z = sqrt(2/pi) (x + 0.044715 x^3): the first pass of GELU and of its gradient.
 * Two passes: with the exponential and the division in one loop GCC's vector code ran 3x slower.
 */
static void gelu_exp(int64_t n, const float* x, float* e) {
#pragma omp simd
  for (int64_t i = 0; i < n; i++) {
    float v = x[i];
    e[i] = vexpf(-2.0f * GELU_K * (v + GELU_A * v * v * v));
  }
}

/* y = x * sigmoid(2z), z = sqrt(2/pi) (x + 0.044715 x^3) */
static void gelu_forward(int64_t n, const float* x, float* y) {
  gelu_exp(n, x, y);
#pragma omp simd
  for (int64_t i = 0; i < n; i++) y[i] = x[i] / (1.0f + y[i]);
}

/* dx = dy * d gelu / dx, from s = sigmoid(2z) */
static void gelu_backward(int64_t n, const float* dy, const float* x, float* dx) {
  gelu_exp(n, x, dx);
  const float k = GELU_K, a = GELU_A;
#pragma omp simd
  for (int64_t i = 0; i < n; i++) {
    float v = x[i];
    float s = 1.0f / (1.0f + dx[i]);
    dx[i] = dy[i] * (s + 2.0f * v * s * (1.0f - s) * k * (1.0f + 3.0f * a * v * v));
  }
}

/* out[c] = sum over r of x[r, c], rows added in order (bias gradients) */
static void sum_rows(int64_t R, int64_t C, const float* x, float* out) {
  for (int64_t c = 0; c < C; c++) out[c] = 0.0f;
  for (int64_t r = 0; r < R; r++) {
    const float* xr = x + r * C;
    for (int64_t c = 0; c < C; c++) out[c] += xr[c];
  }
}

/*
 * d loss / d logits of the mean cross-entropy: (softmax - onehot(target)) * scale per row of V,
 * 0 on rows whose target is outside [0, V); scale = dy / kept rows.
 */
static void crossentropy_backward(int64_t N, int64_t V, const float* p, const int32_t* t, float scale, float* out) {
  for (int64_t r = 0; r < N; r++) {
    const float* pr = p + r * V;
    float* o = out + r * V;
    int32_t target = t[r];
    if (target < 0 || target >= V) {
      memset(o, 0, sizeof(float) * (size_t)V);
      continue;
    }
#pragma omp simd
    for (int64_t c = 0; c < V; c++) o[c] = pr[c] * scale;
    o[target] = (pr[target] - 1.0f) * scale;
  }
}

/* y = x * rstd * w, rstd = 1 / sqrt(mean(x^2) + eps) per row of C (T5), rstd kept */
static void rmsnorm_forward(int64_t N, int64_t C, const float* x, const float* w, float* y, float* rstds, double eps) {
  for (int64_t r = 0; r < N; r++) {
    const float* xr = x + r * C;
    double ss = 0;
#pragma omp simd reduction(+ : ss)
    for (int64_t c = 0; c < C; c++) ss += (float)(xr[c] * xr[c]);
    float rstd = (float)(1.0 / sqrt((double)(float)((float)(ss / C) + eps)));
    rstds[r] = rstd;
    float* yr = y + r * C;
#pragma omp simd
    for (int64_t c = 0; c < C; c++) yr[c] = (xr[c] * rstd) * w[c];
  }
}

/* dx = rstd (dy w - xhat mean(dy w xhat)), dw = sum over rows of dy xhat, xhat = x rstd */
static void rmsnorm_backward(int64_t N, int64_t C, const float* g, const float* x, const float* w, const float* rstds,
                             float* dx, float* dw) {
  for (int64_t c = 0; c < C; c++) dw[c] = 0;
  for (int64_t r = 0; r < N; r++) {
    const float* gr = g + r * C;
    const float* xr = x + r * C;
    float rs = rstds[r];
    double sumGX = 0;
#pragma omp simd reduction(+ : sumGX)
    for (int64_t c = 0; c < C; c++) {
      float xhat = xr[c] * rs;
      sumGX += gr[c] * w[c] * xhat;
      dw[c] += gr[c] * xhat;
    }
    float meanGX = (float)(sumGX / C);
    float* dxr = dx + r * C;
#pragma omp simd
    for (int64_t c = 0; c < C; c++) dxr[c] = rs * (gr[c] * w[c] - xr[c] * rs * meanGX);
  }
}

/* y = (x - mean) * rstd * w + b per row of C, rstd = 1 / sqrt(var + eps) (biased variance); mean and rstd kept */
static void layernorm_forward(int64_t N, int64_t C, const float* x, const float* w, const float* b, float* y, float* means,
                              float* rstds, double eps) {
  for (int64_t r = 0; r < N; r++) {
    const float* xr = x + r * C;
    /* Sums in double, reordered across vector lanes (omp simd): exact enough, and vectorised. */
    double s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t c = 0; c < C; c++) s += xr[c];
    float mean = (float)(s / C);
    double ss = 0;
#pragma omp simd reduction(+ : ss)
    for (int64_t c = 0; c < C; c++) {
      double d = (double)xr[c] - mean;
      ss += d * d;
    }
    float rstd = (float)(1.0 / sqrt((double)(float)(ss / C) + eps));
    means[r] = mean;
    rstds[r] = rstd;
    float* yr = y + r * C;
    for (int64_t c = 0; c < C; c++) yr[c] = (xr[c] - mean) * rstd * w[c] + b[c];
  }
}

/* dx, dw, db of layernorm_forward from dy (g) and the kept mean and rstd */
static void layernorm_backward(int64_t N, int64_t C, const float* g, const float* x, const float* w, const float* means,
                               const float* rstds, float* dx, float* dw, float* db) {
  for (int64_t c = 0; c < C; c++) dw[c] = db[c] = 0;
  for (int64_t r = 0; r < N; r++) {
    const float* gr = g + r * C;
    const float* xr = x + r * C;
    float m = means[r], rs = rstds[r];
    double sumG = 0, sumGX = 0;
#pragma omp simd reduction(+ : sumG, sumGX)
    for (int64_t c = 0; c < C; c++) {
      float xhat = (xr[c] - m) * rs;
      float gx = gr[c] * w[c];
      sumG += gx;
      sumGX += gx * xhat;
      dw[c] += gr[c] * xhat;
      db[c] += gr[c];
    }
    float meanG = (float)(sumG / C), meanGX = (float)(sumGX / C);
    float* dxr = dx + r * C;
    for (int64_t c = 0; c < C; c++) {
      float xhat = (xr[c] - m) * rs;
      dxr[c] = rs * (gr[c] * w[c] - meanG - xhat * meanGX);
    }
  }
}

/*
 * Multi-head attention, per batch row b and head h:
 *   S = scale * q k^T + bias[b, h] (optional), causal: keys after the query get weight 0,
 *   P = softmax(S) by row, y = P v
 * q, k, v and y are read and written in place through row strides (GPT-2's fused QKV is one
 * [B, T, 3C] tensor: q, k, v are its column blocks, stride 3C; no split, no transpose). P is kept
 * for the backward pass. Masked entries are exactly 0, as softmax gives for the -1e9 the composed
 * version adds.
 * The (b, h) pairs are independent small products: they are shared out over OpenBLAS's thread
 * count of POSIX threads, each calling single-threaded BLAS (OpenBLAS splitting every 128x128x32
 * product over two threads spent more time synchronising than multiplying).
 */
typedef struct {
  int64_t B, Tq, Tk, H, dk, causal;
  const float *q, *k, *v, *bias, *dy, *probs_in;
  int64_t ldq, ldk, ldv, ldy, biasB, biasH;
  float *y, *probs, *dq, *dk_, *dv, *dscores;
  float scale;
  int64_t first, last; /* pairs [first, last) */
  int failed;
} attention_job;

static void attention_forward_pair(const attention_job* j, int64_t pair, float* scratch) {
  (void)scratch;
  const int64_t Tq = j->Tq, Tk = j->Tk, b = pair / j->H, h = pair % j->H;
  const float* q = j->q + b * Tq * j->ldq + h * j->dk;
  const float* k = j->k + b * Tk * j->ldk + h * j->dk;
  const float* v = j->v + b * Tk * j->ldv + h * j->dk;
  const float* bias = j->bias ? j->bias + b * j->biasB + h * j->biasH : NULL;
  float* P = j->probs + pair * Tq * Tk;
  const float scale = j->scale;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)Tq, (int)Tk, (int)j->dk, 1.0f, q, (int)j->ldq, k, (int)j->ldk, 0.0f, P, (int)Tk);
  for (int64_t i = 0; i < Tq; i++) {
    float* row = P + i * Tk;
    const int64_t n = j->causal ? (i + 1 < Tk ? i + 1 : Tk) : Tk;
    float mx = -INFINITY;
    if (bias) {
      const float* br = bias + i * Tk;
      for (int64_t c = 0; c < n; c++) row[c] = row[c] * scale + br[c];
    } else {
      for (int64_t c = 0; c < n; c++) row[c] *= scale;
    }
    for (int64_t c = 0; c < n; c++) mx = row[c] > mx ? row[c] : mx;
#pragma omp simd
    for (int64_t c = 0; c < n; c++) row[c] = vexpf(row[c] - mx);
    float sum = 0.0f;
    for (int64_t c = 0; c < n; c++) sum += row[c];
    float inv = 1.0f / sum;
#pragma omp simd
    for (int64_t c = 0; c < n; c++) row[c] *= inv;
    for (int64_t c = n; c < Tk; c++) row[c] = 0.0f;
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)Tq, (int)j->dk, (int)Tk, 1.0f, P, (int)Tk, v, (int)j->ldv, 0.0f,
              j->y + b * Tq * j->ldy + h * j->dk, (int)j->ldy);
}

/*
 * dV = P^T dY, dP = dY V^T, dS = P * (dP - rowsum(P * dP)) (the gradient of S, kept in dscores
 * when the bias needs it), dQ = scale dS K, dK = scale dS^T Q.
 */
static void attention_backward_pair(const attention_job* j, int64_t pair, float* dS) {
  const int64_t Tq = j->Tq, Tk = j->Tk, dk = j->dk, b = pair / j->H, h = pair % j->H;
  const float* q = j->q + b * Tq * j->ldq + h * dk;
  const float* k = j->k + b * Tk * j->ldk + h * dk;
  const float* v = j->v + b * Tk * j->ldv + h * dk;
  float* dq = j->dq + b * Tq * j->ldq + h * dk;
  float* dkp = j->dk_ + b * Tk * j->ldk + h * dk;
  float* dv = j->dv + b * Tk * j->ldv + h * dk;
  const float* P = j->probs_in + pair * Tq * Tk;
  const float* g = j->dy + b * Tq * j->ldy + h * dk;
  const float scale = j->scale;
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)Tk, (int)dk, (int)Tq, 1.0f, P, (int)Tk, g, (int)j->ldy, 0.0f, dv, (int)j->ldv);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)Tq, (int)Tk, (int)dk, 1.0f, g, (int)j->ldy, v, (int)j->ldv, 0.0f, dS, (int)Tk);
  for (int64_t i = 0; i < Tq; i++) {
    const float* p = P + i * Tk;
    float* d = dS + i * Tk;
    const int64_t n = j->causal ? (i + 1 < Tk ? i + 1 : Tk) : Tk;
    float dot = 0.0f;
    for (int64_t c = 0; c < n; c++) dot += p[c] * d[c];
#pragma omp simd
    for (int64_t c = 0; c < n; c++) d[c] = p[c] * (d[c] - dot);
    for (int64_t c = n; c < Tk; c++) d[c] = 0.0f;
  }
  if (j->dscores) memcpy(j->dscores + pair * Tq * Tk, dS, sizeof(float) * (size_t)(Tq * Tk));
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)Tq, (int)dk, (int)Tk, scale, dS, (int)Tk, k, (int)j->ldk, 0.0f, dq, (int)j->ldq);
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)Tk, (int)dk, (int)Tq, scale, dS, (int)Tk, q, (int)j->ldq, 0.0f, dkp, (int)j->ldk);
}

typedef struct {
  attention_job job;
  void (*pair)(const attention_job*, int64_t, float*);
} attention_task;

static void* attention_worker(void* arg) {
  attention_task* task = (attention_task*)arg;
  float* scratch = (float*)malloc(sizeof(float) * (size_t)(task->job.Tq * task->job.Tk));
  if (scratch == NULL) {
    task->job.failed = 1;
    return NULL;
  }
  for (int64_t p = task->job.first; p < task->job.last; p++) task->pair(&task->job, p, scratch);
  free(scratch);
  return NULL;
}

/* Runs pair() for every (b, h) over up to 8 threads (the calling one included); 0 on success. */
static int attention_run(attention_job job, void (*pair)(const attention_job*, int64_t, float*)) {
  int64_t pairs = job.B * job.H;
  int threads = openblas_get_num_threads();
  if (threads > 8) threads = 8;
  if (threads > pairs) threads = (int)pairs;
  if (threads < 1) threads = 1;
  attention_task tasks[8];
  pthread_t ids[8];
  int started[8] = {0};
  if (threads > 1) openblas_set_num_threads(1);
  for (int t = 0; t < threads; t++) {
    tasks[t].job = job;
    tasks[t].pair = pair;
    tasks[t].job.first = pairs * t / threads;
    tasks[t].job.last = pairs * (t + 1) / threads;
    tasks[t].job.failed = 0;
  }
  for (int t = 1; t < threads; t++) started[t] = pthread_create(&ids[t], NULL, attention_worker, &tasks[t]) == 0;
  attention_worker(&tasks[0]);
  int failed = tasks[0].job.failed;
  for (int t = 1; t < threads; t++) {
    if (started[t]) pthread_join(ids[t], NULL);
    else attention_worker(&tasks[t]); /* no thread: do its share here */
    failed |= tasks[t].job.failed;
  }
  if (threads > 1) openblas_set_num_threads(threads);
  return failed;
}

/* Attention over every (b, h) pair of `j` (writes y and probs); 0 on success, nonzero when out of memory. */
static int attention_forward(attention_job j) {
  return j.B * j.Tq * j.Tk == 0 ? 0 : attention_run(j, attention_forward_pair);
}

/* Its gradient (writes dq, dk_, dv and, when not NULL, dscores); 0 on success. */
static int attention_backward(attention_job j) {
  return j.B * j.Tq * j.Tk == 0 ? 0 : attention_run(j, attention_backward_pair);
}

/* ------------------------------------------------------------------------------------------ */
/* N-API wrappers: unpack the arguments, check the operands lie in the heap, call one kernel    */
/* ------------------------------------------------------------------------------------------ */

#define MAX_ARGS 16

/* One call from JavaScript: its arguments, the first of which is the heap (an ArrayBuffer). */
typedef struct {
  napi_env env;
  napi_value argv[MAX_ARGS];
  char* heap;
  size_t bytes;
} js_call;

/* Reads exactly `want` arguments and the heap; false after throwing. */
static bool js_args(napi_env env, napi_callback_info info, const char* name, size_t want, js_call* c) {
  char message[96];
  size_t argc = want;
  void* data = NULL;
  c->env = env;
  if (napi_get_cb_info(env, info, &argc, c->argv, NULL, NULL) != napi_ok) {
    napi_throw_error(env, NULL, "lora-lab native blas: napi_get_cb_info failed");
    return false;
  }
  if (argc != want) {
    snprintf(message, sizeof message, "%s expects %zu arguments, got %zu", name, want, argc);
    napi_throw_type_error(env, NULL, message);
    return false;
  }
  if (napi_get_arraybuffer_info(env, c->argv[0], &data, &c->bytes) != napi_ok) {
    snprintf(message, sizeof message, "%s: the first argument must be the heap's ArrayBuffer", name);
    napi_throw_type_error(env, NULL, message);
    return false;
  }
  c->heap = (char*)data;
  return true;
}

static int64_t js_i64(const js_call* c, int i) {
  int64_t out = 0;
  napi_get_value_int64(c->env, c->argv[i], &out);
  return out;
}

static double js_f64(const js_call* c, int i) {
  double out = 0;
  napi_get_value_double(c->env, c->argv[i], &out);
  return out;
}

/* A float32 pointer at byte offset `off` into the heap, bounds-checked for `count` floats. */
static float* heap_at(const js_call* c, int64_t off, int64_t count, bool* ok) {
  if (off < 0 || off % 4 != 0 || count < 0 || off + 4 * count > (int64_t)c->bytes) {
    *ok = false;
    return NULL;
  }
  return (float*)(c->heap + off);
}

/*
 * Operands argv[first], ..., argv[first + n - 1]: byte offsets into the heap, operand i spanning
 * spans[i] floats. False after throwing when one lies outside the heap.
 */
static bool js_operands(const js_call* c, int first, int n, const int64_t* spans, float** out) {
  bool ok = true;
  for (int i = 0; i < n; i++) out[i] = heap_at(c, js_i64(c, first + i), spans[i], &ok);
  if (!ok) napi_throw_range_error(c->env, NULL, "operand outside the heap");
  return ok;
}

/* sgemm(heap, batch, m, n, k, aOff, aStride, bOff, bStride, cOff, transA, transB); strides in floats */
static napi_value js_sgemm(napi_env env, napi_callback_info info) {
  js_call c;
  if (!js_args(env, info, "sgemm", 12, &c)) return NULL;
  int64_t batch = js_i64(&c, 1), m = js_i64(&c, 2), n = js_i64(&c, 3), k = js_i64(&c, 4);
  int64_t aOff = js_i64(&c, 5), aStride = js_i64(&c, 6);
  int64_t bOff = js_i64(&c, 7), bStride = js_i64(&c, 8);
  int64_t cOff = js_i64(&c, 9);
  bool ta = false, tb = false;
  napi_get_value_bool(env, c.argv[10], &ta);
  napi_get_value_bool(env, c.argv[11], &tb);
  /* Every byte touched must lie inside the heap (a batch stride may be 0, so not js_operands). */
  int64_t aEnd = aOff + 4 * ((batch - 1) * aStride + m * k);
  int64_t bEnd = bOff + 4 * ((batch - 1) * bStride + k * n);
  int64_t cEnd = cOff + 4 * (batch * m * n);
  if (batch < 1 || m < 0 || n < 0 || k < 0 || aOff < 0 || bOff < 0 || cOff < 0 || aStride < 0 || bStride < 0 ||
      aEnd > (int64_t)c.bytes || bEnd > (int64_t)c.bytes || cEnd > (int64_t)c.bytes) {
    napi_throw_range_error(env, NULL, "sgemm: operand outside the heap");
    return NULL;
  }
  float* base = (float*)c.heap;
  sgemm_batched(batch, m, n, k, base + aOff / 4, aStride, base + bOff / 4, bStride, base + cOff / 4, ta, tb);
  return NULL;
}

/* adamw(heap, n, p, g, m, v, outP, outM, outV, lr, beta1, beta2, eps, decay, bc1, bc2sqrt) -> sum of squared changes */
static napi_value js_adamw(napi_env env, napi_callback_info info) {
  js_call c;
  if (!js_args(env, info, "adamw", 16, &c)) return NULL;
  int64_t n = js_i64(&c, 1);
  float* o[7]; /* p, g, m, v, outP, outM, outV */
  if (!js_operands(&c, 2, 7, (const int64_t[]){n, n, n, n, n, n, n}, o)) return NULL;
  double sq = adamw_update(n, o[0], o[1], o[2], o[3], o[4], o[5], o[6], js_f64(&c, 9), js_f64(&c, 10), js_f64(&c, 11),
                           js_f64(&c, 12), js_f64(&c, 13), js_f64(&c, 14), js_f64(&c, 15));
  napi_value out;
  if (napi_create_double(env, sq, &out) != napi_ok) return NULL;
  return out;
}

/* gelu(heap, n, x, y) */
static napi_value js_gelu(napi_env env, napi_callback_info info) {
  js_call c;
  if (!js_args(env, info, "gelu", 4, &c)) return NULL;
  int64_t n = js_i64(&c, 1);
  float* o[2]; /* x, y */
  if (!js_operands(&c, 2, 2, (const int64_t[]){n, n}, o)) return NULL;
  gelu_forward(n, o[0], o[1]);
  return NULL;
}

/* geluGrad(heap, n, dy, x, dx) */
static napi_value js_gelu_grad(napi_env env, napi_callback_info info) {
  js_call c;
  if (!js_args(env, info, "geluGrad", 5, &c)) return NULL;
  int64_t n = js_i64(&c, 1);
  float* o[3]; /* dy, x, dx */
  if (!js_operands(&c, 2, 3, (const int64_t[]){n, n, n}, o)) return NULL;
  gelu_backward(n, o[0], o[1], o[2]);
  return NULL;
}

/* sumRows(heap, rows, cols, x, out) */
static napi_value js_sum_rows(napi_env env, napi_callback_info info) {
  js_call c;
  if (!js_args(env, info, "sumRows", 5, &c)) return NULL;
  int64_t R = js_i64(&c, 1), C = js_i64(&c, 2);
  float* o[2]; /* x, out */
  if (!js_operands(&c, 3, 2, (const int64_t[]){R * C, C}, o)) return NULL;
  sum_rows(R, C, o[0], o[1]);
  return NULL;
}

/* crossEntropyGrad(heap, rows, V, probs, targets, scale, out); targets int32 */
static napi_value js_cross_entropy_grad(napi_env env, napi_callback_info info) {
  js_call c;
  if (!js_args(env, info, "crossEntropyGrad", 7, &c)) return NULL;
  int64_t N = js_i64(&c, 1), V = js_i64(&c, 2);
  float* in[2]; /* probs, targets */
  float* out[1];
  if (!js_operands(&c, 3, 2, (const int64_t[]){N * V, N}, in) || !js_operands(&c, 6, 1, (const int64_t[]){N * V}, out)) return NULL;
  crossentropy_backward(N, V, in[0], (const int32_t*)in[1], (float)js_f64(&c, 5), out[0]);
  return NULL;
}

/* rmsNorm(heap, rows, cols, x, w, y, rstd, eps) */
static napi_value js_rms_norm(napi_env env, napi_callback_info info) {
  js_call c;
  if (!js_args(env, info, "rmsNorm", 8, &c)) return NULL;
  int64_t N = js_i64(&c, 1), C = js_i64(&c, 2);
  float* o[4]; /* x, w, y, rstd */
  if (!js_operands(&c, 3, 4, (const int64_t[]){N * C, C, N * C, N}, o)) return NULL;
  rmsnorm_forward(N, C, o[0], o[1], o[2], o[3], js_f64(&c, 7));
  return NULL;
}

/* rmsNormGrad(heap, rows, cols, dy, x, w, rstd, dx, dw) */
static napi_value js_rms_norm_grad(napi_env env, napi_callback_info info) {
  js_call c;
  if (!js_args(env, info, "rmsNormGrad", 9, &c)) return NULL;
  int64_t N = js_i64(&c, 1), C = js_i64(&c, 2);
  float* o[6]; /* dy, x, w, rstd, dx, dw */
  if (!js_operands(&c, 3, 6, (const int64_t[]){N * C, N * C, C, N, N * C, C}, o)) return NULL;
  rmsnorm_backward(N, C, o[0], o[1], o[2], o[3], o[4], o[5]);
  return NULL;
}

/* layerNorm(heap, rows, cols, x, w, b, y, mean, rstd, eps) */
static napi_value js_layer_norm(napi_env env, napi_callback_info info) {
  js_call c;
  if (!js_args(env, info, "layerNorm", 10, &c)) return NULL;
  int64_t N = js_i64(&c, 1), C = js_i64(&c, 2);
  float* o[6]; /* x, w, b, y, mean, rstd */
  if (!js_operands(&c, 3, 6, (const int64_t[]){N * C, C, C, N * C, N, N}, o)) return NULL;
  layernorm_forward(N, C, o[0], o[1], o[2], o[3], o[4], o[5], js_f64(&c, 9));
  return NULL;
}

/* layerNormGrad(heap, rows, cols, dy, x, w, mean, rstd, dx, dw, db) */
static napi_value js_layer_norm_grad(napi_env env, napi_callback_info info) {
  js_call c;
  if (!js_args(env, info, "layerNormGrad", 11, &c)) return NULL;
  int64_t N = js_i64(&c, 1), C = js_i64(&c, 2);
  float* o[8]; /* dy, x, w, mean, rstd, dx, dw, db */
  if (!js_operands(&c, 3, 8, (const int64_t[]){N * C, N * C, C, N, N, N * C, C, C}, o)) return NULL;
  layernorm_backward(N, C, o[0], o[1], o[2], o[3], o[4], o[5], o[6], o[7]);
  return NULL;
}

/* Attention's argument 1: a Float64Array of `want` integers (sizes, byte offsets, strides); NULL after throwing. */
static const double* attention_params(const js_call* c, size_t want) {
  napi_typedarray_type type;
  size_t count = 0;
  void* data = NULL;
  if (napi_get_typedarray_info(c->env, c->argv[1], &type, &count, &data, NULL, NULL) != napi_ok || type != napi_float64_array || count != want) {
    napi_throw_type_error(c->env, NULL, "attention: expected a Float64Array of parameters");
    return NULL;
  }
  return (const double*)data;
}

/* Floats spanned by a [B, T, rows of stride ld] operand read at H heads of width dk. */
static int64_t strided_span(int64_t B, int64_t T, int64_t ld, int64_t width) {
  return B * T == 0 ? 0 : (B * T - 1) * ld + width;
}

/* Sizes (params[0..5]) and the q, k, v, y row strides (params[ld..ld+3]); false after throwing if they make no sense. */
static bool attention_dims(const js_call* c, const double* a, int ld, attention_job* j) {
  j->B = (int64_t)a[0], j->Tq = (int64_t)a[1], j->Tk = (int64_t)a[2], j->H = (int64_t)a[3], j->dk = (int64_t)a[4], j->causal = a[5] != 0;
  j->ldq = (int64_t)a[ld], j->ldk = (int64_t)a[ld + 1], j->ldv = (int64_t)a[ld + 2], j->ldy = (int64_t)a[ld + 3];
  const int64_t width = j->H * j->dk;
  if (j->B < 0 || j->Tq < 0 || j->Tk < 0 || j->H < 1 || j->dk < 1 || j->ldq < width || j->ldk < width || j->ldv < width || j->ldy < width) {
    napi_throw_range_error(c->env, NULL, "attention: bad sizes or strides");
    return false;
  }
  return true;
}

/* q, k and v at params[6..8], bounds-checked for their strides. */
static void attention_inputs(const js_call* c, const double* a, attention_job* j, bool* ok) {
  const int64_t width = j->H * j->dk;
  j->q = heap_at(c, (int64_t)a[6], strided_span(j->B, j->Tq, j->ldq, width), ok);
  j->k = heap_at(c, (int64_t)a[7], strided_span(j->B, j->Tk, j->ldk, width), ok);
  j->v = heap_at(c, (int64_t)a[8], strided_span(j->B, j->Tk, j->ldv, width), ok);
}

/* Throws if an operand lay outside the heap, else runs `kernel` at the scale of argument 2. */
static void attention_go(const js_call* c, attention_job j, bool ok, int (*kernel)(attention_job)) {
  if (!ok) {
    napi_throw_range_error(c->env, NULL, "attention: operand outside the heap");
    return;
  }
  j.scale = (float)js_f64(c, 2);
  if (kernel(j) != 0) napi_throw_error(c->env, NULL, "attention: out of memory");
}

/*
 * attention(heap, params, scale); params = [B, Tq, Tk, H, dk, causal, q, k, v, y, bias, probs,
 * ldq, ldk, ldv, ldy, biasB, biasH] (offsets in bytes, bias -1 for none; strides in floats).
 */
static napi_value js_attention(napi_env env, napi_callback_info info) {
  js_call c;
  if (!js_args(env, info, "attention", 3, &c)) return NULL;
  const double* a = attention_params(&c, 18);
  attention_job j = {0};
  if (a == NULL || !attention_dims(&c, a, 12, &j)) return NULL;
  j.biasB = (int64_t)a[16], j.biasH = (int64_t)a[17];
  if (j.biasB < 0 || j.biasH < 0) {
    napi_throw_range_error(env, NULL, "attention: negative bias strides");
    return NULL;
  }
  const int64_t width = j.H * j.dk, scores = j.B * j.H * j.Tq * j.Tk;
  bool ok = true;
  attention_inputs(&c, a, &j, &ok);
  j.y = heap_at(&c, (int64_t)a[9], strided_span(j.B, j.Tq, j.ldy, width), &ok);
  if (a[10] >= 0) j.bias = heap_at(&c, (int64_t)a[10], (j.B > 0 ? (j.B - 1) * j.biasB : 0) + (j.H - 1) * j.biasH + j.Tq * j.Tk, &ok);
  j.probs = heap_at(&c, (int64_t)a[11], scores, &ok);
  attention_go(&c, j, ok, attention_forward);
  return NULL;
}

/*
 * attentionGrad(heap, params, scale); params = [B, Tq, Tk, H, dk, causal, q, k, v, dy, probs, dq,
 * dk, dv, dscores, ldq, ldk, ldv, ldy] (dscores -1 for none). dq, dk and dv share q, k and v's strides.
 */
static napi_value js_attention_grad(napi_env env, napi_callback_info info) {
  js_call c;
  if (!js_args(env, info, "attentionGrad", 3, &c)) return NULL;
  const double* a = attention_params(&c, 19);
  attention_job j = {0};
  if (a == NULL || !attention_dims(&c, a, 15, &j)) return NULL;
  const int64_t width = j.H * j.dk, scores = j.B * j.H * j.Tq * j.Tk;
  bool ok = true;
  attention_inputs(&c, a, &j, &ok);
  j.dy = heap_at(&c, (int64_t)a[9], strided_span(j.B, j.Tq, j.ldy, width), &ok);
  j.probs_in = heap_at(&c, (int64_t)a[10], scores, &ok);
  j.dq = heap_at(&c, (int64_t)a[11], strided_span(j.B, j.Tq, j.ldq, width), &ok);
  j.dk_ = heap_at(&c, (int64_t)a[12], strided_span(j.B, j.Tk, j.ldk, width), &ok);
  j.dv = heap_at(&c, (int64_t)a[13], strided_span(j.B, j.Tk, j.ldv, width), &ok);
  if (a[14] >= 0) j.dscores = heap_at(&c, (int64_t)a[14], scores, &ok);
  attention_go(&c, j, ok, attention_backward);
  return NULL;
}

/* threads(count?): sets OpenBLAS's thread count when given one; returns the count in use. */
static napi_value js_threads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc == 1) {
    int64_t count = 0;
    napi_get_value_int64(env, argv[0], &count);
    openblas_set_num_threads((int)count);
  }
  napi_value out;
  if (napi_create_int32(env, openblas_get_num_threads(), &out) != napi_ok) return NULL;
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"sgemm", NULL, js_sgemm, NULL, NULL, NULL, napi_default, NULL},
      {"threads", NULL, js_threads, NULL, NULL, NULL, napi_default, NULL},
      {"adamw", NULL, js_adamw, NULL, NULL, NULL, napi_default, NULL},
      {"attention", NULL, js_attention, NULL, NULL, NULL, napi_default, NULL},
      {"attentionGrad", NULL, js_attention_grad, NULL, NULL, NULL, napi_default, NULL},
      {"crossEntropyGrad", NULL, js_cross_entropy_grad, NULL, NULL, NULL, napi_default, NULL},
      {"rmsNorm", NULL, js_rms_norm, NULL, NULL, NULL, napi_default, NULL},
      {"rmsNormGrad", NULL, js_rms_norm_grad, NULL, NULL, NULL, napi_default, NULL},
      {"sumRows", NULL, js_sum_rows, NULL, NULL, NULL, napi_default, NULL},
      {"gelu", NULL, js_gelu, NULL, NULL, NULL, napi_default, NULL},
      {"geluGrad", NULL, js_gelu_grad, NULL, NULL, NULL, napi_default, NULL},
      {"layerNorm", NULL, js_layer_norm, NULL, NULL, NULL, napi_default, NULL},
      {"layerNormGrad", NULL, js_layer_norm_grad, NULL, NULL, NULL, napi_default, NULL},
  };
  if (napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
