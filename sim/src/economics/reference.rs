//! The published reference tables the market is calibrated to, embedded so
//! a run needs no files beside the binary: provider list prices
//! (`data/llm_prices_usd_per_mtok.csv`, the whitepaper's worked example
//! first) and output-length statistics of public traces
//! (`data/request_lengths.csv`). Both are copies of `shared/reference/`.

use super::lengths::TraceStats;
use super::pricing::ModelPrices;

/// Provider list prices, USD per million tokens.
pub const PRICES_CSV: &str = include_str!("../../data/llm_prices_usd_per_mtok.csv");
/// Published trace statistics.
pub const LENGTHS_CSV: &str = include_str!("../../data/request_lengths.csv");

/// One row of the price list.
#[derive(Clone, Debug, PartialEq)]
pub struct ListPrice {
    /// The provider the prices come from.
    pub provider: String,
    /// The model, by the name adverts and quotes use.
    pub model: String,
    /// The model's prices, USD per million tokens.
    pub prices: ModelPrices,
}

/// Every model of the price list, in file order.
pub fn price_list() -> Vec<ListPrice> {
    PRICES_CSV
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.splitn(5, ',').collect();
            Some(ListPrice {
                provider: (*f.first()?).to_owned(),
                model: (*f.get(1)?).to_owned(),
                prices: ModelPrices {
                    input_usd_per_mtok: f.get(2)?.parse().ok()?,
                    output_usd_per_mtok: f.get(3)?.parse().ok()?,
                },
            })
        })
        .collect()
}

/// The list price of `model`, if listed.
pub fn list_price(model: &str) -> Option<ModelPrices> {
    price_list()
        .into_iter()
        .find(|p| p.model == model)
        .map(|p| p.prices)
}

/// Every trace of the length table with its statistics, in file order.
pub fn traces() -> Vec<(String, TraceStats)> {
    let mut out: Vec<(String, TraceStats)> = Vec::new();
    for line in LENGTHS_CSV.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let (Some(trace), Some(stat), Some(v)) = (f.first(), f.get(1), f.get(2)) else {
            continue;
        };
        let Ok(v) = v.parse::<f64>() else { continue };
        let i = match out.iter().position(|(t, _)| t == trace) {
            Some(i) => i,
            None => {
                out.push(((*trace).to_owned(), TraceStats::default()));
                out.len() - 1
            }
        };
        let s = &mut out[i].1;
        match *stat {
            "mean" => s.mean = v,
            "median" => s.median = Some(v),
            "p90" => s.p90 = v,
            "p99" => s.p99 = Some(v),
            "max" => s.max = Some(v),
            _ => {}
        }
    }
    out
}

/// The statistics of trace `name`, if listed.
pub fn trace(name: &str) -> Option<TraceStats> {
    traces()
        .into_iter()
        .find(|(t, _)| t == name)
        .map(|(_, s)| s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tables_parse_with_the_worked_example_first() {
        let list = price_list();
        assert_eq!(list.len(), 12);
        assert_eq!(list[0].model, "gpt-4o");
        assert_eq!(
            list_price("gpt-4o"),
            Some(ModelPrices {
                input_usd_per_mtok: 2.50,
                output_usd_per_mtok: 10.00
            })
        );
        assert_eq!(list_price("no-such-model"), None);
        let b = trace("burstgpt").unwrap_or_default();
        assert_eq!(
            (b.mean, b.p90, b.p99, b.max),
            (125.0, 276.0, Some(1586.0), Some(12_500.0))
        );
        assert_eq!(traces().len(), 4);
    }
}
