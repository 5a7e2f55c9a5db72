/*
 * tensorpool umbrella header of the client API: context, client, producer,
 * consumer, tensors, errors and logging. The shared-memory layer
 * (tensor_pool/tp_shm.h: regions, superblocks, seqlock, canonical paths) is
 * an advanced API for tools and is included separately.
 */
#ifndef TENSOR_POOL_TP_H
#define TENSOR_POOL_TP_H

#include "tensor_pool/tp_common.h"
#include "tensor_pool/tp_client.h"
#include "tensor_pool/tp_consumer.h"
#include "tensor_pool/tp_context.h"
#include "tensor_pool/tp_discovery.h"
#include "tensor_pool/tp_log.h"
#include "tensor_pool/tp_producer.h"
#include "tensor_pool/tp_tensor.h"
#include "tensor_pool/tp_tracelink.h"
#include "tensor_pool/tp_join.h"

#endif
