// Replays a libFuzzer corpus without libFuzzer (g++ builds): every file, then deterministic
// mutations of each (truncations, byte flips, splices), so the smoke test exercises the parser
// with the same entry point in every build.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

void Run(const std::string& input) {
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> inputs;
  for (int i = 1; i < argc; ++i) {
    std::error_code error;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(argv[i], error)) {
      if (!entry.is_regular_file()) continue;
      std::ifstream file(entry.path(), std::ios::binary);
      inputs.emplace_back(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
    }
  }
  if (inputs.empty()) {
    std::fprintf(stderr, "no corpus files found\n");
    return 1;
  }
  std::mt19937 random(42);  // fixed seed: the same inputs on every run
  size_t runs = 0;
  for (const std::string& input : inputs) {
    Run(input);
    ++runs;
    for (size_t cut = 0; cut < input.size(); cut += 1 + input.size() / 64) {
      Run(input.substr(0, cut));
      ++runs;
    }
    for (int round = 0; round < 500; ++round) {
      std::string mutated = input;
      const int edits = 1 + static_cast<int>(random() % 8);
      for (int e = 0; e < edits && !mutated.empty(); ++e) {
        const size_t at = random() % mutated.size();
        switch (random() % 3) {
          case 0:
            mutated[at] = static_cast<char>(random());
            break;
          case 1:
            mutated.erase(at, 1 + random() % 4);
            break;
          default:
            mutated.insert(at, inputs[random() % inputs.size()].substr(0, 16));
            break;
        }
      }
      Run(mutated);
      ++runs;
    }
  }
  std::printf("%zu inputs from %zu corpus files: no crash\n", runs, inputs.size());
  return 0;
}
