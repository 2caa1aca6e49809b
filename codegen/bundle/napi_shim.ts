/**
 * A few lines of C linked into every node-cpu object so that Node loads it
 * with process.dlopen as a Node-API addon: the runtime then needs no FFI
 * package at all. The addon exports
 *   run(arena, arenaOffset, shared, sharedOffset)   calls kiln_run on two ArrayBuffers
 *   misalignment(buffer)                            its data address modulo 64
 * so the runtime can place both arenas on 64-byte boundaries inside
 * ArrayBuffers it owns. Node-API is a stable C ABI: the prototypes are
 * declared here (no node headers needed), resolved from the node binary at load.
 */
export const NAPI_SHIM_C = String.raw`#include <stddef.h>
#include <stdint.h>
typedef struct napi_env__ *napi_env;
typedef struct napi_value__ *napi_value;
typedef struct napi_callback_info__ *napi_callback_info;
typedef int napi_status;
typedef napi_value (*napi_callback)(napi_env, napi_callback_info);
napi_status napi_get_cb_info(napi_env, napi_callback_info, size_t *, napi_value *, napi_value *, void **);
napi_status napi_get_arraybuffer_info(napi_env, napi_value, void **, size_t *);
napi_status napi_get_value_uint32(napi_env, napi_value, uint32_t *);
napi_status napi_create_uint32(napi_env, uint32_t, napi_value *);
napi_status napi_create_function(napi_env, const char *, size_t, napi_callback, void *, napi_value *);
napi_status napi_set_named_property(napi_env, napi_value, const char *, napi_value);
napi_status napi_throw_error(napi_env, const char *, const char *);
void kiln_run(void *bases);

static napi_value run(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  void *arena, *shared;
  size_t arena_len, shared_len;
  uint32_t arena_off, shared_off;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != 0 || argc != 4
      || napi_get_arraybuffer_info(env, argv[0], &arena, &arena_len) != 0
      || napi_get_value_uint32(env, argv[1], &arena_off) != 0
      || napi_get_arraybuffer_info(env, argv[2], &shared, &shared_len) != 0
      || napi_get_value_uint32(env, argv[3], &shared_off) != 0) {
    napi_throw_error(env, NULL, "kiln native program: run(arena, arenaOffset, shared, sharedOffset) takes two ArrayBuffers and their offsets");
    return NULL;
  }
  void *bases[2] = { (char *)arena + arena_off, (char *)shared + shared_off };
  kiln_run(bases);
  return NULL;
}

static napi_value misalignment(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value arg, result;
  void *data;
  size_t len;
  if (napi_get_cb_info(env, info, &argc, &arg, NULL, NULL) != 0 || argc != 1 || napi_get_arraybuffer_info(env, arg, &data, &len) != 0) {
    napi_throw_error(env, NULL, "kiln native program: misalignment(buffer) takes an ArrayBuffer");
    return NULL;
  }
  napi_create_uint32(env, (uint32_t)((uintptr_t)data % 64), &result);
  return result;
}

napi_value napi_register_module_v1(napi_env env, napi_value exports) {
  napi_value f;
  napi_create_function(env, "run", 3, run, NULL, &f);
  napi_set_named_property(env, exports, "run", f);
  napi_create_function(env, "misalignment", 12, misalignment, NULL, &f);
  napi_set_named_property(env, exports, "misalignment", f);
  return exports;
}
`;
