// A small map from type to one value of that type. RunSettings uses it for
// the settings of each family of passes (the tool sets a
// QuantizationRunSettings, the quantize pass reads it), and PassContext for
// decisions one pass leaves for a later one (fallback's keep-float list for
// quantize). Typed: a misspelt field does not compile; nothing is a string.
#ifndef ONNXC_PASSES_PASS_TYPED_MAP_H_
#define ONNXC_PASSES_PASS_TYPED_MAP_H_

#include <map>
#include <memory>
#include <typeindex>
#include <utility>

namespace onnxc {

class TypedMap {
 public:
  template <typename T>
  void Set(T value) {
    items_[std::type_index(typeid(T))] = std::make_shared<T>(std::move(value));
  }
  // nullptr when nothing of type T was set.
  template <typename T>
  const T* Find() const {
    auto it = items_.find(std::type_index(typeid(T)));
    return it == items_.end() ? nullptr : static_cast<const T*>(it->second.get());
  }
  template <typename T>
  T* FindMutable() {
    auto it = items_.find(std::type_index(typeid(T)));
    return it == items_.end() ? nullptr : static_cast<T*>(it->second.get());
  }
  // The value set, or T's defaults.
  template <typename T>
  T GetOrDefault() const {
    const T* v = Find<T>();
    return v != nullptr ? *v : T{};
  }

 private:
  std::map<std::type_index, std::shared_ptr<void>> items_;
};

}  // namespace onnxc

#endif  // ONNXC_PASSES_PASS_TYPED_MAP_H_
