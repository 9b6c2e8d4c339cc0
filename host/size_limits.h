/* Refuses absurd sizes up front: batch_size x num_samples x latent_size
 * that no machine here could hold are an error naming the memory they would
 * need, before anything is allocated, instead of an out-of-memory kill
 * minutes later. */
#ifndef FIVO_HOST_SIZE_LIMITS_H
#define FIVO_HOST_SIZE_LIMITS_H

#include "modes.h"

/* 0 when the sizes fit (or the mode builds no model); 2 after printing what
 * they would need and what the machine has. */
int fivo_host_check_sizes(const fivo_host *h);

#endif
