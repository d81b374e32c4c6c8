/*
 * setsockopt(2) and getsockopt(2) with a byte buffer as the option value, for the socket options
 * Node does not expose: TCP_MD5SIG (RFC 2385, a struct tcp_md5sig), IP_TTL / IPV6_UNICAST_HOPS,
 * IP_MINTTL / IPV6_MINHOPCOUNT, and TCP_SAVE_SYN / TCP_SAVED_SYN (RFC 5082: the SYN's TTL).
 * The option values are built and read in TypeScript (src/fsm/sockopt.ts).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <node_api.h>

struct sockopt_args {
  int32_t fd, level, name;
  void *data;
  size_t length;
};

/* (fd, level, name, buffer) from JavaScript; false with a TypeError thrown when they are not */
static bool read_args(napi_env env, napi_callback_info info, const char *usage, struct sockopt_args *a) {
  size_t argc = 4;
  napi_value argv[4];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 4 ||
      napi_get_value_int32(env, argv[0], &a->fd) != napi_ok ||
      napi_get_value_int32(env, argv[1], &a->level) != napi_ok ||
      napi_get_value_int32(env, argv[2], &a->name) != napi_ok ||
      napi_get_buffer_info(env, argv[3], &a->data, &a->length) != napi_ok) {
    napi_throw_type_error(env, NULL, usage);
    return false;
  }
  return true;
}

/* an Error whose code is "errno N" and whose message is strerror(N) */
static void throw_errno(napi_env env) {
  int e = errno;
  char code[32];
  snprintf(code, sizeof code, "errno %d", e);
  napi_throw_error(env, code, strerror(e));
}

static napi_value set_sockopt(napi_env env, napi_callback_info info) {
  struct sockopt_args a;
  if (!read_args(env, info, "setsockopt(fd, level, name, buffer)", &a)) return NULL;
  if (setsockopt(a.fd, a.level, a.name, a.data, (socklen_t)a.length) != 0) throw_errno(env);
  return NULL;
}

/* getsockopt(fd, level, name, buffer) -> the number of octets written into buffer */
static napi_value get_sockopt(napi_env env, napi_callback_info info) {
  struct sockopt_args a;
  if (!read_args(env, info, "getsockopt(fd, level, name, buffer)", &a)) return NULL;
  socklen_t len = (socklen_t)a.length;
  if (getsockopt(a.fd, a.level, a.name, a.data, &len) != 0) {
    throw_errno(env);
    return NULL;
  }
  napi_value result;
  napi_create_uint32(env, (uint32_t)len, &result);
  return result;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "setsockopt", NAPI_AUTO_LENGTH, set_sockopt, NULL, &fn);
  napi_set_named_property(env, exports, "setsockopt", fn);
  napi_create_function(env, "getsockopt", NAPI_AUTO_LENGTH, get_sockopt, NULL, &fn);
  napi_set_named_property(env, exports, "getsockopt", fn);
  return exports;
}
