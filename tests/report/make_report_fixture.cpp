// Fills a results store with the sample run (sample_store.h) for the browser
// test: make_report_fixture DB_PATH
#include <cstdio>

#include "core/error.h"
#include "sample_store.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_report_fixture DB_PATH\n");
    return 2;
  }
  try {
    hybridize::store::ResultsStore results(argv[1]);
    hybridize::testing::fill_sample_store(results);
  } catch (const hybridize::Error& error) {
    std::fprintf(stderr, "make_report_fixture: %s\n", error.what());
    return 1;
  }
  return 0;
}
