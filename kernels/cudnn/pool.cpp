// Average pooling through cuDNN. CUDNN_POOLING_AVERAGE_COUNT_EXCLUDE_PADDING divides by the number of the
// window's elements inside the image, as Quill's reference does; CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING
// by the whole window, which is count_include_pad when the padding is symmetric and the output size rounds
// down (every window then lies inside the padded input). Asymmetric padding and ceil_mode, which cuDNN's
// descriptor cannot say, run the custom kernel (NotSupported: counted on the op). Max pooling is not here: Quill's max
// pooling records an argmax (flat index in the plane) that its backward uses, and cuDNN neither produces
// one nor breaks ties the same way, so the binding runs the CUDA backend's max-pool kernels.
#include <string>

#include "kernels/cudnn/cudnn_check.h"
#include "kernels/cudnn/cudnn_ops.h"
#include "kernels/cudnn/handle.h"

namespace quill::cudnn {
namespace {

void check_output_shape(const PoolDesc& pool, const TensorDesc& x, const PoolGeometry& g, const char* op) {
  int n = 0, c = 0, rows = 0, cols = 0;
  QUILL_CUDNN_CHECK(cudnnGetPooling2dForwardOutputDim(pool.get(), x.get(), &n, &c, &rows, &cols));
  if (n != g.n || c != g.c || rows != g.p() || cols != g.q())
    throw NotSupported(std::string(op) + ": cuDNN's pooled shape differs from Quill's");
}

// The descriptor of g's average pooling, or NotSupported.
cudnnPoolingMode_t average_mode(const PoolGeometry& g, const char* op) {
  if (!g.symmetric_padding())
    throw NotSupported(std::string(op) + ": asymmetric padding (cuDNN pads both sides of an axis alike)");
  if (g.ceil_mode) throw NotSupported(std::string(op) + ": ceil_mode (cuDNN's pooled size rounds down)");
  return g.count_include_pad ? CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING : CUDNN_POOLING_AVERAGE_COUNT_EXCLUDE_PADDING;
}

}  // namespace

void avgpool_forward(const PoolGeometry& g, const Tensor& x, Tensor& y) {
  const cudnnDataType_t t = data_type(x.dtype(), "avgpool_forward");
  const PoolDesc pool(g, average_mode(g, "avgpool_forward"));
  const TensorDesc xd(t, g.n, g.c, g.h, g.w), yd(t, g.n, g.c, g.p(), g.q());
  check_output_shape(pool, xd, g, "avgpool_forward");
  QUILL_CUDNN_CHECK(cudnnPoolingForward(handle(), pool.get(), one(t), xd.get(), x.raw(), zero(t), yd.get(), y.raw()));
}

// cudnnPoolingBackward asks for x and y too; average pooling's gradient depends on neither, and the op has
// neither, so dy stands in for y and dx (same shape as x) for x.
void avgpool_backward(const PoolGeometry& g, const Tensor& dy, Tensor& dx) {
  const cudnnDataType_t t = data_type(dy.dtype(), "avgpool_backward");
  const PoolDesc pool(g, average_mode(g, "avgpool_backward"));
  const TensorDesc xd(t, g.n, g.c, g.h, g.w), yd(t, g.n, g.c, g.p(), g.q());
  check_output_shape(pool, xd, g, "avgpool_backward");
  QUILL_CUDNN_CHECK(cudnnPoolingBackward(handle(), pool.get(), one(t), yd.get(), dy.raw(), yd.get(), dy.raw(),
                                         xd.get(), dx.raw(), zero(t), xd.get(), dx.raw()));
}

}  // namespace quill::cudnn
