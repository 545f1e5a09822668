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


/* Reads a float32 pointer argument: a byte offset into the heap, bounds-checked for `count` floats. */
static float* heap_f32(napi_env env, void* data, size_t length, napi_value v, int64_t count, bool* ok) {
  int64_t off = get_i64(env, v);
  if (off < 0 || off % 4 != 0 || off + 4 * count > (int64_t)length) {
    *ok = false;
    return NULL;
  }
  return (float*)((char*)data + off);
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

/* gelu(heap, n, x, y): y = x * sigmoid(2z), z = sqrt(2/pi) (x + 0.044715 x^3) */
static napi_value gelu(napi_env env, napi_callback_info info) {
  HEAP_ARGS(4)
  int64_t n = get_i64(env, argv[1]);
  const float* x = heap_f32(env, data, length, argv[2], n, &ok);
  float* y = heap_f32(env, data, length, argv[3], n, &ok);
  BOUNDS()
  const float k = 0.7978845608028654f, a = 0.044715f;
  for (int64_t i = 0; i < n; i++) {
    float v = x[i];
    float z = k * (v + a * v * v * v);
    y[i] = v / (1.0f + expf(-2.0f * z));
  }
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
  const float k = 0.7978845608028654f, a = 0.044715f;
  for (int64_t i = 0; i < n; i++) {
    float v = x[i];
    float z = k * (v + a * v * v * v);
    float s = 1.0f / (1.0f + expf(-2.0f * z));
    dx[i] = dy[i] * (s + 2.0f * v * s * (1.0f - s) * k * (1.0f + 3.0f * a * v * v));
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
    double s = 0;
    for (int64_t c = 0; c < C; c++) s += xr[c];
    float mean = (float)(s / C);
    double ss = 0;
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
      {"gelu", NULL, gelu, NULL, NULL, NULL, napi_default, NULL},
      {"geluGrad", NULL, gelu_grad, NULL, NULL, NULL, napi_default, NULL},
      {"layerNorm", NULL, layer_norm, NULL, NULL, NULL, napi_default, NULL},
      {"layerNormGrad", NULL, layer_norm_grad, NULL, NULL, NULL, napi_default, NULL},
  };
  if (napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
