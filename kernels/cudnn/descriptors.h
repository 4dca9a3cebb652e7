#pragma once
// RAII owners of cuDNN descriptors, built from Quill's dtypes and geometries. Every tensor is dense NCHW.
#include <cudnn.h>

#include "runtime/geometry.h"
#include "runtime/tensor.h"

namespace quill::cudnn {

// CUDNN_DATA_FLOAT or CUDNN_DATA_DOUBLE; other dtypes are an error.
cudnnDataType_t data_type(DType t, const char* op);

// The constants 1 and 0 as the scaling-factor type cuDNN expects for data of this type (double for
// double data, float otherwise).
const void* one(cudnnDataType_t t);
const void* zero(cudnnDataType_t t);

class TensorDesc {
 public:
  TensorDesc();  // unset (for cudnnDeriveBNTensorDescriptor)
  TensorDesc(cudnnDataType_t t, int n, int c, int h, int w);
  // A tensor of rank 1..4 as NCHW, the missing trailing dimensions set to 1.
  TensorDesc(const Tensor& t, cudnnDataType_t type);
  ~TensorDesc();
  TensorDesc(const TensorDesc&) = delete;
  TensorDesc& operator=(const TensorDesc&) = delete;
  cudnnTensorDescriptor_t get() const { return desc_; }

 private:
  cudnnTensorDescriptor_t desc_ = nullptr;
};

class FilterDesc {
 public:
  FilterDesc(cudnnDataType_t t, int k, int c, int r, int s);
  ~FilterDesc();
  FilterDesc(const FilterDesc&) = delete;
  FilterDesc& operator=(const FilterDesc&) = delete;
  cudnnFilterDescriptor_t get() const { return desc_; }

 private:
  cudnnFilterDescriptor_t desc_ = nullptr;
};

// Cross-correlation (what Quill's conv computes), accumulating in the data type.
class ConvDesc {
 public:
  ConvDesc(const ConvGeometry& g, cudnnDataType_t t);
  ~ConvDesc();
  ConvDesc(const ConvDesc&) = delete;
  ConvDesc& operator=(const ConvDesc&) = delete;
  cudnnConvolutionDescriptor_t get() const { return desc_; }
  void set_math(cudnnMathType_t math);

 private:
  cudnnConvolutionDescriptor_t desc_ = nullptr;
};

class PoolDesc {
 public:
  PoolDesc(const PoolGeometry& g, cudnnPoolingMode_t mode);
  ~PoolDesc();
  PoolDesc(const PoolDesc&) = delete;
  PoolDesc& operator=(const PoolDesc&) = delete;
  cudnnPoolingDescriptor_t get() const { return desc_; }

 private:
  cudnnPoolingDescriptor_t desc_ = nullptr;
};

class ActivationDesc {
 public:
  ActivationDesc(cudnnActivationMode_t mode, double coef);
  ~ActivationDesc();
  ActivationDesc(const ActivationDesc&) = delete;
  ActivationDesc& operator=(const ActivationDesc&) = delete;
  cudnnActivationDescriptor_t get() const { return desc_; }

 private:
  cudnnActivationDescriptor_t desc_ = nullptr;
};

}  // namespace quill::cudnn
