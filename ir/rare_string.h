// RareString: a string that is almost always empty (doc strings of nodes
// and values), held by pointer: 8 bytes instead of std::string's 32 in
// objects a model has one of per node.
#ifndef ONNXC_IR_RARE_STRING_H_
#define ONNXC_IR_RARE_STRING_H_

#include <memory>
#include <string>
#include <utility>

namespace onnxc {

class RareString {
 public:
  RareString() = default;
  RareString(const RareString& o) { *this = o; }
  RareString& operator=(const RareString& o) {
    if (this != &o) set(o.get());
    return *this;
  }

  const std::string& get() const {
    static const std::string* const kEmpty = new std::string;
    return s_ ? *s_ : *kEmpty;
  }
  void set(std::string s) {
    if (s.empty()) {
      s_.reset();
    } else {
      s_ = std::make_unique<std::string>(std::move(s));
    }
  }

 private:
  std::unique_ptr<std::string> s_;
};

}  // namespace onnxc

#endif  // ONNXC_IR_RARE_STRING_H_
