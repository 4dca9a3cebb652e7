#include "kernels/cudnn/descriptors.h"

#include "kernels/cudnn/cudnn_check.h"

namespace quill::cudnn {

cudnnDataType_t data_type(DType t, const char* op) {
  switch (t) {
    case DType::F32: return CUDNN_DATA_FLOAT;
    case DType::F64: return CUDNN_DATA_DOUBLE;
    default: fail(op, ": unsupported dtype ", dtype_name(t));
  }
}

const void* one(cudnnDataType_t t) {
  static const float f = 1.0f;
  static const double d = 1.0;
  return t == CUDNN_DATA_DOUBLE ? static_cast<const void*>(&d) : static_cast<const void*>(&f);
}

const void* zero(cudnnDataType_t t) {
  static const float f = 0.0f;
  static const double d = 0.0;
  return t == CUDNN_DATA_DOUBLE ? static_cast<const void*>(&d) : static_cast<const void*>(&f);
}

TensorDesc::TensorDesc() { QUILL_CUDNN_CHECK(cudnnCreateTensorDescriptor(&desc_)); }

TensorDesc::TensorDesc(cudnnDataType_t t, int n, int c, int h, int w) : TensorDesc() {
  QUILL_CUDNN_CHECK(cudnnSetTensor4dDescriptor(desc_, CUDNN_TENSOR_NCHW, t, n, c, h, w));
}

namespace {
int dim_or_one(const Tensor& t, int i) { return i < t.shape().rank() ? static_cast<int>(t.dim(i)) : 1; }
}  // namespace

TensorDesc::TensorDesc(const Tensor& t, cudnnDataType_t type)
    : TensorDesc(type, dim_or_one(t, 0), dim_or_one(t, 1), dim_or_one(t, 2), dim_or_one(t, 3)) {}

TensorDesc::~TensorDesc() { cudnnDestroyTensorDescriptor(desc_); }

FilterDesc::FilterDesc(cudnnDataType_t t, int k, int c, int r, int s) {
  QUILL_CUDNN_CHECK(cudnnCreateFilterDescriptor(&desc_));
  const cudnnStatus_t status = cudnnSetFilter4dDescriptor(desc_, t, CUDNN_TENSOR_NCHW, k, c, r, s);
  if (status != CUDNN_STATUS_SUCCESS) cudnnDestroyFilterDescriptor(desc_);
  QUILL_CUDNN_CHECK(status);
}

FilterDesc::~FilterDesc() { cudnnDestroyFilterDescriptor(desc_); }

ConvDesc::ConvDesc(const ConvGeometry& g, cudnnDataType_t t) {
  QUILL_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&desc_));
  const cudnnStatus_t status = cudnnSetConvolution2dDescriptor(desc_, g.pad_h, g.pad_w, g.stride_h, g.stride_w, 1,
                                                                1, CUDNN_CROSS_CORRELATION, t);
  if (status != CUDNN_STATUS_SUCCESS) cudnnDestroyConvolutionDescriptor(desc_);
  QUILL_CUDNN_CHECK(status);
}

ConvDesc::~ConvDesc() { cudnnDestroyConvolutionDescriptor(desc_); }

void ConvDesc::set_math(cudnnMathType_t math) { QUILL_CUDNN_CHECK(cudnnSetConvolutionMathType(desc_, math)); }

PoolDesc::PoolDesc(const PoolGeometry& g, cudnnPoolingMode_t mode) {
  QUILL_CUDNN_CHECK(cudnnCreatePoolingDescriptor(&desc_));
  const cudnnStatus_t status = cudnnSetPooling2dDescriptor(desc_, mode, CUDNN_PROPAGATE_NAN, g.kh, g.kw, g.pad_h,
                                                           g.pad_w, g.stride_h, g.stride_w);
  if (status != CUDNN_STATUS_SUCCESS) cudnnDestroyPoolingDescriptor(desc_);
  QUILL_CUDNN_CHECK(status);
}

PoolDesc::~PoolDesc() { cudnnDestroyPoolingDescriptor(desc_); }

ActivationDesc::ActivationDesc(cudnnActivationMode_t mode, double coef) {
  QUILL_CUDNN_CHECK(cudnnCreateActivationDescriptor(&desc_));
  const cudnnStatus_t status = cudnnSetActivationDescriptor(desc_, mode, CUDNN_PROPAGATE_NAN, coef);
  if (status != CUDNN_STATUS_SUCCESS) cudnnDestroyActivationDescriptor(desc_);
  QUILL_CUDNN_CHECK(status);
}

ActivationDesc::~ActivationDesc() { cudnnDestroyActivationDescriptor(desc_); }

}  // namespace quill::cudnn
