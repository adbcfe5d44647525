#pragma once
// What a scorer makes of one batch: per layer and metric, one value per
// sample (a mean over that sample's counted tokens). The driver stores these
// rows and summarises each probe from all of its samples.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace hybridize::search {

using SampleValues = std::map<std::string, std::vector<double>>;  // metric -> value per sample
using BatchScores = std::map<int64_t, SampleValues>;              // layer -> metrics

}  // namespace hybridize::search
