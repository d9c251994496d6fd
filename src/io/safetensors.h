/* safetensors.h: reading and writing the safetensors format
 * (https://github.com/huggingface/safetensors): an 8-byte little-endian
 * header length N, N bytes of JSON {"name": {"dtype": "F32", "shape": [...],
 * "data_offsets": [begin, end]}, ..., "__metadata__": {"key": "value"}},
 * then the tensor bytes, little-endian, offsets relative to the end of the
 * header. soma writes and reads F32 tensors of rank 1 or 2, and I64 tensors
 * of rank 0 or 1 (PyTorch's batchnorm counter num_batches_tracked is an I64
 * scalar). */
#ifndef SOMA_IO_SAFETENSORS_H
#define SOMA_IO_SAFETENSORS_H

#include <stdint.h>
#include "soma/status.h"

typedef struct soma_st_tensor {
    const char *name;  /* e.g. "layers.0.weight" */
    int rank;          /* 1 or 2 (F32); 0 or 1 (I64) */
    int64_t shape[2];  /* shape[0] only when rank is 1; rank 0: shape[0] = 1 */
    float *data;       /* shape product floats (F32), or NULL */
    int64_t *ints;     /* I64: shape product integers (data is NULL) */
} soma_st_tensor;

typedef struct soma_st_meta {
    const char *key, *value;
} soma_st_meta;

/* Writes the tensors and metadata to path, crash-safely: into a temporary
 * file beside it, fsync, rename over path, fsync the directory. path then
 * holds either its old content or the complete new file, never a mix. A
 * symbolic link's target is replaced; a character device or FIFO is written
 * in place; a directory, block device or read-only file is refused
 * (io/files.h). */
soma_status soma_safetensors_write(const char *path, const soma_st_tensor *tensors, int n_tensors,
                                   const soma_st_meta *meta, int n_meta);

typedef struct soma_st_file soma_st_file;

/* Reads and validates a whole file (a regular file: a FIFO or device is
 * refused without waiting on it): header length within the file, JSON
 * well-formed, dtype F32 or I64 (others are refused by name), shapes whose product
 * matches the byte range, ranges inside the data section, not overlapping
 * and together covering it without gaps. Errors name the file and the byte
 * offset or tensor at fault. */
soma_status soma_safetensors_read(const char *path, soma_st_file **out);
void soma_st_file_free(soma_st_file *f); /* NULL is allowed */

int soma_st_file_count(const soma_st_file *f);
const soma_st_tensor *soma_st_file_tensor(const soma_st_file *f, int index);
const soma_st_tensor *soma_st_file_find(const soma_st_file *f, const char *name); /* NULL if absent */
const char *soma_st_file_meta(const soma_st_file *f, const char *key);           /* NULL if absent */
int soma_st_file_meta_count(const soma_st_file *f);
const soma_st_meta *soma_st_file_meta_entry(const soma_st_file *f, int index);  /* NULL if out of range */

#endif
