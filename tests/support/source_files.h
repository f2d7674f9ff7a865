#pragma once

// Test-only: files of the source tree (captured outputs in exporters/*/testdata/, golden files),
// found through SRE_SOURCE_DIR, which ctest sets for every test.

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

namespace sre::testing {

/// The path of `relative` ("exporters/postfix/testdata/x.log") in the source tree.
inline std::string SourcePath(const std::string& relative) {
  const char* root = std::getenv("SRE_SOURCE_DIR");
  EXPECT_NE(root, nullptr) << "SRE_SOURCE_DIR is not set (ctest sets it)";
  return std::string(root ? root : ".") + "/" + relative;
}

/// The bytes of that file; a file that cannot be read fails the test.
inline std::string ReadSourceFile(const std::string& relative) {
  std::ifstream file(SourcePath(relative), std::ios::binary);
  EXPECT_TRUE(file.good()) << relative;
  return std::string(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
}

}  // namespace sre::testing
