/*
 * lora-lab's optional native matrix product: an N-API addon on the system's CBLAS (OpenBLAS).
 * The wasm backend keeps every tensor in its WebAssembly heap, one ArrayBuffer; this addon
 * multiplies in place there (operands and output are byte offsets into that buffer), so no data is
 * copied between JavaScript, wasm and BLAS. Built by src/engine/native/build.mjs; never required.
 */
#include <node_api.h>
#include <cblas.h>
#include <stdint.h>
#include <math.h>
#include <string.h>
#include <stdlib.h>
#include <pthread.h>

extern void openblas_set_num_threads(int);
extern int openblas_get_num_threads(void);

#define CHECK(call)                                                   \
  if ((call) != napi_ok) {                                            \
    napi_throw_error(env, NULL, "lora-lab native blas: " #call " failed"); \
    return NULL;                                                      \
  }

static int64_t get_i64(napi_env env, napi_value v) {
  int64_t out = 0;
  napi_get_value_int64(env, v, &out);
  return out;
}

/*
 * sgemm(heap, batch, m, n, k, aOff, aStride, bOff, bStride, cOff, transA, transB)
 * For each batch index i: C_i[m,n] = op(A_i) @ op(B_i), row-major, with A_i at
 * heap + aOff + i*aStride floats (stride 0 broadcasts one matrix over the batch).
 */
static napi_value sgemm(napi_env env, napi_callback_info info) {
  size_t argc = 12;
  napi_value argv[12];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 12) {
    napi_throw_type_error(env, NULL, "sgemm expects 12 arguments");
    return NULL;
  }
  void* data = NULL;
  size_t length = 0;
  CHECK(napi_get_arraybuffer_info(env, argv[0], &data, &length));
  int64_t batch = get_i64(env, argv[1]), m = get_i64(env, argv[2]), n = get_i64(env, argv[3]), k = get_i64(env, argv[4]);
  int64_t aOff = get_i64(env, argv[5]), aStride = get_i64(env, argv[6]);
  int64_t bOff = get_i64(env, argv[7]), bStride = get_i64(env, argv[8]);
  int64_t cOff = get_i64(env, argv[9]);
  bool ta = false, tb = false;
  napi_get_value_bool(env, argv[10], &ta);
  napi_get_value_bool(env, argv[11], &tb);
  /* Bounds: every byte touched must lie inside the heap. */
  int64_t aEnd = aOff + 4 * ((batch - 1) * aStride + m * k);
  int64_t bEnd = bOff + 4 * ((batch - 1) * bStride + k * n);
  int64_t cEnd = cOff + 4 * (batch * m * n);
  if (batch < 1 || m < 0 || n < 0 || k < 0 || aOff < 0 || bOff < 0 || cOff < 0 || aStride < 0 || bStride < 0 ||
      aEnd > (int64_t)length || bEnd > (int64_t)length || cEnd > (int64_t)length) {
    napi_throw_range_error(env, NULL, "sgemm: operand outside the heap");
    return NULL;
  }
  float* base = (float*)data;
  const float* a = base + aOff / 4;
  const float* b = base + bOff / 4;
  float* c = base + cOff / 4;
  if (k == 0) {
    memset(c, 0, sizeof(float) * (size_t)(batch * m * n));
    return NULL;
  }
  int lda = ta ? (int)m : (int)k;
  int ldb = tb ? (int)k : (int)n;
  for (int64_t i = 0; i < batch; i++) {
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k,
                1.0f, a + i * aStride, lda, b + i * bStride, ldb, 0.0f, c + i * m * n, (int)n);
  }
  return NULL;
}


/* A float32 pointer at byte offset `off` into the heap, bounds-checked for `count` floats. */
static float* heap_at(void* data, size_t length, int64_t off, int64_t count, bool* ok) {
  if (off < 0 || off % 4 != 0 || count < 0 || off + 4 * count > (int64_t)length) {
    *ok = false;
    return NULL;
  }
  return (float*)((char*)data + off);
}

/* Reads a float32 pointer argument: a byte offset into the heap, bounds-checked for `count` floats. */
static float* heap_f32(napi_env env, void* data, size_t length, napi_value v, int64_t count, bool* ok) {
  return heap_at(data, length, get_i64(env, v), count, ok);
}

static double get_f64(napi_env env, napi_value v) {
  double out = 0;
  napi_get_value_double(env, v, &out);
  return out;
}

#define HEAP_ARGS(n)                                                   \
  size_t argc = n;                                                     \
  napi_value argv[n];                                                  \
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));         \
  if (argc != n) {                                                     \
    napi_throw_type_error(env, NULL, "wrong number of arguments");     \
    return NULL;                                                       \
  }                                                                    \
  void* data = NULL;                                                   \
  size_t length = 0;                                                   \
  CHECK(napi_get_arraybuffer_info(env, argv[0], &data, &length));      \
  bool ok = true;

#define BOUNDS()                                                       \
  if (!ok) {                                                           \
    napi_throw_range_error(env, NULL, "operand outside the heap");     \
    return NULL;                                                       \
  }

/* adamw(heap, n, p, g, m, v, outP, outM, outV, lr, beta1, beta2, eps, decay, bc1, bc2sqrt) -> sum of squared changes */
static napi_value adamw(napi_env env, napi_callback_info info) {
  HEAP_ARGS(16)
  int64_t n = get_i64(env, argv[1]);
  const float* p = heap_f32(env, data, length, argv[2], n, &ok);
  const float* g = heap_f32(env, data, length, argv[3], n, &ok);
  const float* m0 = heap_f32(env, data, length, argv[4], n, &ok);
  const float* v0 = heap_f32(env, data, length, argv[5], n, &ok);
  float* p1 = heap_f32(env, data, length, argv[6], n, &ok);
  float* m1 = heap_f32(env, data, length, argv[7], n, &ok);
  float* v1 = heap_f32(env, data, length, argv[8], n, &ok);
  BOUNDS()
  double lr = get_f64(env, argv[9]), beta1 = get_f64(env, argv[10]), beta2 = get_f64(env, argv[11]);
  double eps = get_f64(env, argv[12]), decay = get_f64(env, argv[13]), bc1 = get_f64(env, argv[14]), bc2 = get_f64(env, argv[15]);
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
  napi_value out;
  CHECK(napi_create_double(env, sq, &out));
  return out;
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

/* gelu(heap, n, x, y): y = x * sigmoid(2z), z = sqrt(2/pi) (x + 0.044715 x^3) */
static napi_value gelu(napi_env env, napi_callback_info info) {
  HEAP_ARGS(4)
  int64_t n = get_i64(env, argv[1]);
  const float* x = heap_f32(env, data, length, argv[2], n, &ok);
  float* y = heap_f32(env, data, length, argv[3], n, &ok);
  BOUNDS()
  gelu_exp(n, x, y);
#pragma omp simd
  for (int64_t i = 0; i < n; i++) y[i] = x[i] / (1.0f + y[i]);
  return NULL;
}

/* gelu_grad(heap, n, dy, x, dx) */
static napi_value gelu_grad(napi_env env, napi_callback_info info) {
  HEAP_ARGS(5)
  int64_t n = get_i64(env, argv[1]);
  const float* dy = heap_f32(env, data, length, argv[2], n, &ok);
  const float* x = heap_f32(env, data, length, argv[3], n, &ok);
  float* dx = heap_f32(env, data, length, argv[4], n, &ok);
  BOUNDS()
  gelu_exp(n, x, dx);
  const float k = GELU_K, a = GELU_A;
#pragma omp simd
  for (int64_t i = 0; i < n; i++) {
    float v = x[i];
    float s = 1.0f / (1.0f + dx[i]);
    dx[i] = dy[i] * (s + 2.0f * v * s * (1.0f - s) * k * (1.0f + 3.0f * a * v * v));
  }
  return NULL;
}

/* sum_rows(heap, rows, cols, x, out): out[c] = sum over r of x[r, c], rows added in order (bias gradients) */
static napi_value sum_rows(napi_env env, napi_callback_info info) {
  HEAP_ARGS(5)
  int64_t R = get_i64(env, argv[1]), C = get_i64(env, argv[2]);
  const float* x = heap_f32(env, data, length, argv[3], R * C, &ok);
  float* out = heap_f32(env, data, length, argv[4], C, &ok);
  BOUNDS()
  for (int64_t c = 0; c < C; c++) out[c] = 0.0f;
  for (int64_t r = 0; r < R; r++) {
    const float* xr = x + r * C;
    for (int64_t c = 0; c < C; c++) out[c] += xr[c];
  }
  return NULL;
}

/*
 * cross_entropy_grad(heap, rows, V, probs, targets, scale, out): d loss / d logits of the mean
 * cross-entropy: (softmax - onehot(target)) * scale per row, 0 on rows whose target is outside [0, V).
 */
static napi_value cross_entropy_grad(napi_env env, napi_callback_info info) {
  HEAP_ARGS(7)
  int64_t N = get_i64(env, argv[1]), V = get_i64(env, argv[2]);
  const float* p = heap_f32(env, data, length, argv[3], N * V, &ok);
  const int32_t* t = (const int32_t*)heap_f32(env, data, length, argv[4], N, &ok);
  float* out = heap_f32(env, data, length, argv[6], N * V, &ok);
  BOUNDS()
  float scale = (float)get_f64(env, argv[5]);
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
  return NULL;
}

/* rms_norm(heap, rows, cols, x, w, y, rstd, eps): y = x * rstd * w, rstd = 1 / sqrt(mean(x^2) + eps) (T5) */
static napi_value rms_norm(napi_env env, napi_callback_info info) {
  HEAP_ARGS(8)
  int64_t N = get_i64(env, argv[1]), C = get_i64(env, argv[2]);
  const float* x = heap_f32(env, data, length, argv[3], N * C, &ok);
  const float* w = heap_f32(env, data, length, argv[4], C, &ok);
  float* y = heap_f32(env, data, length, argv[5], N * C, &ok);
  float* rstds = heap_f32(env, data, length, argv[6], N, &ok);
  BOUNDS()
  double eps = get_f64(env, argv[7]);
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
  return NULL;
}

/* rms_norm_grad(heap, rows, cols, dy, x, w, rstd, dx, dw) */
static napi_value rms_norm_grad(napi_env env, napi_callback_info info) {
  HEAP_ARGS(9)
  int64_t N = get_i64(env, argv[1]), C = get_i64(env, argv[2]);
  const float* g = heap_f32(env, data, length, argv[3], N * C, &ok);
  const float* x = heap_f32(env, data, length, argv[4], N * C, &ok);
  const float* w = heap_f32(env, data, length, argv[5], C, &ok);
  const float* rstds = heap_f32(env, data, length, argv[6], N, &ok);
  float* dx = heap_f32(env, data, length, argv[7], N * C, &ok);
  float* dw = heap_f32(env, data, length, argv[8], C, &ok);
  BOUNDS()
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
  return NULL;
}

/* layer_norm(heap, rows, cols, x, w, b, y, mean, rstd, eps) */
static napi_value layer_norm(napi_env env, napi_callback_info info) {
  HEAP_ARGS(10)
  int64_t N = get_i64(env, argv[1]), C = get_i64(env, argv[2]);
  const float* x = heap_f32(env, data, length, argv[3], N * C, &ok);
  const float* w = heap_f32(env, data, length, argv[4], C, &ok);
  const float* b = heap_f32(env, data, length, argv[5], C, &ok);
  float* y = heap_f32(env, data, length, argv[6], N * C, &ok);
  float* means = heap_f32(env, data, length, argv[7], N, &ok);
  float* rstds = heap_f32(env, data, length, argv[8], N, &ok);
  BOUNDS()
  double eps = get_f64(env, argv[9]);
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
  return NULL;
}

/* layer_norm_grad(heap, rows, cols, dy, x, w, mean, rstd, dx, dw, db) */
static napi_value layer_norm_grad(napi_env env, napi_callback_info info) {
  HEAP_ARGS(11)
  int64_t N = get_i64(env, argv[1]), C = get_i64(env, argv[2]);
  const float* g = heap_f32(env, data, length, argv[3], N * C, &ok);
  const float* x = heap_f32(env, data, length, argv[4], N * C, &ok);
  const float* w = heap_f32(env, data, length, argv[5], C, &ok);
  const float* means = heap_f32(env, data, length, argv[6], N, &ok);
  const float* rstds = heap_f32(env, data, length, argv[7], N, &ok);
  float* dx = heap_f32(env, data, length, argv[8], N * C, &ok);
  float* dw = heap_f32(env, data, length, argv[9], C, &ok);
  float* db = heap_f32(env, data, length, argv[10], C, &ok);
  BOUNDS()
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
  return NULL;
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

static void attention_pair(const attention_job* j, int64_t pair, float* scratch) {
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
static void attention_grad_pair(const attention_job* j, int64_t pair, float* dS) {
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

/* Reads the Float64Array of integer parameters (sizes, byte offsets, strides). */
static const double* attention_params(napi_env env, napi_value v, size_t want) {
  napi_typedarray_type type;
  size_t count = 0;
  void* data = NULL;
  if (napi_get_typedarray_info(env, v, &type, &count, &data, NULL, NULL) != napi_ok || type != napi_float64_array || count != want) {
    napi_throw_type_error(env, NULL, "attention: expected a Float64Array of parameters");
    return NULL;
  }
  return (const double*)data;
}

/* Floats spanned by a [B, T, rows of stride ld] operand read at H heads of width dk. */
static int64_t strided_span(int64_t B, int64_t T, int64_t ld, int64_t width) {
  return B * T == 0 ? 0 : (B * T - 1) * ld + width;
}

/* Sizes (params[0..5]) and the q, k, v, y row strides (params[ld..ld+3]); 0 after throwing if they make no sense. */
static int attention_dims(napi_env env, const double* a, int ld, attention_job* j) {
  j->B = (int64_t)a[0], j->Tq = (int64_t)a[1], j->Tk = (int64_t)a[2], j->H = (int64_t)a[3], j->dk = (int64_t)a[4], j->causal = a[5] != 0;
  j->ldq = (int64_t)a[ld], j->ldk = (int64_t)a[ld + 1], j->ldv = (int64_t)a[ld + 2], j->ldy = (int64_t)a[ld + 3];
  const int64_t width = j->H * j->dk;
  if (j->B < 0 || j->Tq < 0 || j->Tk < 0 || j->H < 1 || j->dk < 1 || j->ldq < width || j->ldk < width || j->ldv < width || j->ldy < width) {
    napi_throw_range_error(env, NULL, "attention: bad sizes or strides");
    return 0;
  }
  return 1;
}

/* q, k and v at params[6..8], bounds-checked for their strides. */
static void attention_inputs(void* data, size_t length, const double* a, attention_job* j, bool* ok) {
  const int64_t width = j->H * j->dk;
  j->q = heap_at(data, length, (int64_t)a[6], strided_span(j->B, j->Tq, j->ldq, width), ok);
  j->k = heap_at(data, length, (int64_t)a[7], strided_span(j->B, j->Tk, j->ldk, width), ok);
  j->v = heap_at(data, length, (int64_t)a[8], strided_span(j->B, j->Tk, j->ldv, width), ok);
}

/* Throws if an operand lay outside the heap, else runs pair() over every (b, h) at the given scale. */
static void attention_go(napi_env env, napi_value scale, attention_job j, bool ok, void (*pair)(const attention_job*, int64_t, float*)) {
  if (!ok) {
    napi_throw_range_error(env, NULL, "attention: operand outside the heap");
    return;
  }
  j.scale = (float)get_f64(env, scale);
  if (j.B * j.Tq * j.Tk == 0) return;
  if (attention_run(j, pair) != 0) napi_throw_error(env, NULL, "attention: out of memory");
}

/*
 * attention(heap, params, scale); params = [B, Tq, Tk, H, dk, causal, q, k, v, y, bias, probs,
 * ldq, ldk, ldv, ldy, biasB, biasH] (offsets in bytes, bias -1 for none; strides in floats).
 */
static napi_value attention(napi_env env, napi_callback_info info) {
  HEAP_ARGS(3)
  const double* a = attention_params(env, argv[1], 18);
  if (a == NULL) return NULL;
  attention_job j = {0};
  if (!attention_dims(env, a, 12, &j)) return NULL;
  j.biasB = (int64_t)a[16], j.biasH = (int64_t)a[17];
  if (j.biasB < 0 || j.biasH < 0) {
    napi_throw_range_error(env, NULL, "attention: negative bias strides");
    return NULL;
  }
  const int64_t width = j.H * j.dk, scores = j.B * j.H * j.Tq * j.Tk;
  attention_inputs(data, length, a, &j, &ok);
  j.y = heap_at(data, length, (int64_t)a[9], strided_span(j.B, j.Tq, j.ldy, width), &ok);
  if (a[10] >= 0) j.bias = heap_at(data, length, (int64_t)a[10], (j.B > 0 ? (j.B - 1) * j.biasB : 0) + (j.H - 1) * j.biasH + j.Tq * j.Tk, &ok);
  j.probs = heap_at(data, length, (int64_t)a[11], scores, &ok);
  attention_go(env, argv[2], j, ok, attention_pair);
  return NULL;
}

/*
 * attention_grad(heap, params, scale); params = [B, Tq, Tk, H, dk, causal, q, k, v, dy, probs, dq,
 * dk, dv, dscores, ldq, ldk, ldv, ldy] (dscores -1 for none). dq, dk and dv share q, k and v's strides.
 */
static napi_value attention_grad(napi_env env, napi_callback_info info) {
  HEAP_ARGS(3)
  const double* a = attention_params(env, argv[1], 19);
  if (a == NULL) return NULL;
  attention_job j = {0};
  if (!attention_dims(env, a, 15, &j)) return NULL;
  const int64_t width = j.H * j.dk, scores = j.B * j.H * j.Tq * j.Tk;
  attention_inputs(data, length, a, &j, &ok);
  j.dy = heap_at(data, length, (int64_t)a[9], strided_span(j.B, j.Tq, j.ldy, width), &ok);
  j.probs_in = heap_at(data, length, (int64_t)a[10], scores, &ok);
  j.dq = heap_at(data, length, (int64_t)a[11], strided_span(j.B, j.Tq, j.ldq, width), &ok);
  j.dk_ = heap_at(data, length, (int64_t)a[12], strided_span(j.B, j.Tk, j.ldk, width), &ok);
  j.dv = heap_at(data, length, (int64_t)a[13], strided_span(j.B, j.Tk, j.ldv, width), &ok);
  if (a[14] >= 0) j.dscores = heap_at(data, length, (int64_t)a[14], scores, &ok);
  attention_go(env, argv[2], j, ok, attention_grad_pair);
  return NULL;
}

static napi_value set_threads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc == 1) openblas_set_num_threads((int)get_i64(env, argv[0]));
  napi_value out;
  CHECK(napi_create_int32(env, openblas_get_num_threads(), &out));
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"sgemm", NULL, sgemm, NULL, NULL, NULL, napi_default, NULL},
      {"threads", NULL, set_threads, NULL, NULL, NULL, napi_default, NULL},
      {"adamw", NULL, adamw, NULL, NULL, NULL, napi_default, NULL},
      {"attention", NULL, attention, NULL, NULL, NULL, napi_default, NULL},
      {"attentionGrad", NULL, attention_grad, NULL, NULL, NULL, napi_default, NULL},
      {"crossEntropyGrad", NULL, cross_entropy_grad, NULL, NULL, NULL, napi_default, NULL},
      {"rmsNorm", NULL, rms_norm, NULL, NULL, NULL, napi_default, NULL},
      {"rmsNormGrad", NULL, rms_norm_grad, NULL, NULL, NULL, napi_default, NULL},
      {"sumRows", NULL, sum_rows, NULL, NULL, NULL, napi_default, NULL},
      {"gelu", NULL, gelu, NULL, NULL, NULL, napi_default, NULL},
      {"geluGrad", NULL, gelu_grad, NULL, NULL, NULL, napi_default, NULL},
      {"layerNorm", NULL, layer_norm, NULL, NULL, NULL, napi_default, NULL},
      {"layerNormGrad", NULL, layer_norm_grad, NULL, NULL, NULL, napi_default, NULL},
  };
  if (napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
