#include "gtest/gtest.h"
TEST(Pruning, Builds) {}
