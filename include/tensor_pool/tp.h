/*
 * tensorpool umbrella header: include this to get the whole public API.
 */
#ifndef TENSOR_POOL_TP_H
#define TENSOR_POOL_TP_H

#include "tensor_pool/tp_common.h"
#include "tensor_pool/tp_client.h"
#include "tensor_pool/tp_consumer.h"
#include "tensor_pool/tp_context.h"
#include "tensor_pool/tp_driver.h"
#include "tensor_pool/tp_log.h"
#include "tensor_pool/tp_producer.h"
#include "tensor_pool/tp_shm.h"
#include "tensor_pool/tp_tensor.h"

#endif
