#pragma once
// The throughput model calibrated by measurement: `hybridize bench` measures a
// device's copy bandwidth and matmul FLOP rate and stores them; `hybridize
// plan` predicts with the newest stored rates instead of nominal ones.
#include <optional>
#include <string>

#include "infer/device_rates.h"
#include "search/cost_model.h"
#include "store/results_store.h"

namespace hybridize::search {

// Keeps `measured` (in `dtype`, as the bench names it) in the store.
void store_device_rates(store::ResultsStore& results, const infer::DeviceRates& measured, const std::string& dtype);

// Rates for the cost model from a stored measurement, named after the device
// and the date; the memory is the device's own.
HardwareRates rates_from(const store::HardwareRatesRecord& record);

// The newest stored measurement, if the store has one.
std::optional<HardwareRates> stored_rates(store::ResultsStore& results);

}  // namespace hybridize::search
