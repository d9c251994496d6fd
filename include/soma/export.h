/**
 * @file soma/export.h
 * @brief SOMA_API: what libsoma.so exports.
 *
 * The library is compiled with -fvisibility=hidden, so a function is visible
 * to programs linking libsoma.so only when its declaration in a public header
 * carries SOMA_API. Everything else (the backends, the reference ops, the JSON
 * and safetensors helpers) stays inside the library, and the ABI is the public
 * headers, nothing more; tests/abi_test.sh checks this on every build.
 */
#ifndef SOMA_EXPORT_H
#define SOMA_EXPORT_H

/** Marks a function libsoma.so exports (default visibility). */
#if defined(__GNUC__) || defined(__clang__)
#define SOMA_API __attribute__((visibility("default")))
#else
#define SOMA_API
#endif

#endif
