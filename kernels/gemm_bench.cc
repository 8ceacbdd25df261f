// Measures single-precision GEMM on conv-shaped problems with OpenBLAS
// (cblas_sgemm) and Eigen, at 1 and 2 threads; used to pick the BLAS.
//   bazel run //kernels:gemm_bench
#include <Eigen/Core>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

extern "C" {
void cblas_sgemm(int, int, int, int, int, int, float, const float*, int, const float*, int, float,
                 float*, int);
void openblas_set_num_threads(int);
}

int main() {
  struct Shape { int m, n, k; const char* what; };
  Shape shapes[] = {{64, 3136, 576, "resnet18 layer1 3x3"},   {128, 784, 1152, "resnet18 layer2 3x3"},
                    {256, 196, 2304, "resnet18 layer3 3x3"},  {512, 49, 4608, "resnet18 layer4 3x3"},
                    {96, 12544, 16, "mobilenet 1x1 expand"},  {24, 3136, 144, "mobilenet 1x1 project"},
                    {64, 25088, 576, "resnet18 layer1 b8"}};
  for (int threads : {1, 2}) {
    openblas_set_num_threads(threads);
    Eigen::setNbThreads(threads);
    double tb = 0, te = 0;
    for (const Shape& s : shapes) {
      std::vector<float> a(s.m * s.k, 0.5f), b(s.k * s.n, 0.25f), c(s.m * s.n);
      auto time = [&](auto f) {
        f();
        std::vector<double> v;
        for (int r = 0; r < 7; ++r) {
          auto t0 = std::chrono::steady_clock::now();
          f();
          v.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
        }
        std::sort(v.begin(), v.end());
        return v[3];
      };
      double ob = time([&] { cblas_sgemm(101, 111, 111, s.m, s.n, s.k, 1.f, a.data(), s.k, b.data(), s.n, 0.f, c.data(), s.n); });
      using Mat = Eigen::Map<Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>;
      double eg = time([&] {
        Mat A(a.data(), s.m, s.k), B(b.data(), s.k, s.n), C(c.data(), s.m, s.n);
        C.noalias() = A * B;
      });
      tb += ob;
      te += eg;
      std::printf("threads=%d %-24s M=%-4d N=%-6d K=%-5d openblas %8.3f ms  eigen %8.3f ms\n", threads,
                  s.what, s.m, s.n, s.k, ob, eg);
    }
    std::printf("threads=%d total: openblas %.3f ms, eigen %.3f ms\n", threads, tb, te);
  }
}
