/* crc32.h: CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), as zlib
 * computes it: crc32("123456789") = 0xCBF43926. Chain calls to cover
 * several buffers: crc = soma_crc32_update(crc, ...), starting from 0. */
#ifndef SOMA_IO_CRC32_H
#define SOMA_IO_CRC32_H

#include <stddef.h>
#include <stdint.h>

uint32_t soma_crc32_update(uint32_t crc, const void *data, size_t n);

#endif
