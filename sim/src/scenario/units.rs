//! Typed scenario values: probabilities that refuse values outside [0, 1],
//! and length distributions with units in their names.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize};

/// A probability in `[0, 1]`; any other value is refused while parsing.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd, Serialize, Default)]
#[serde(transparent)]
pub struct Probability(f64);

impl Probability {
    /// Probability 0.
    pub const ZERO: Probability = Probability(0.0);

    /// `p`, if it lies in `[0, 1]`.
    pub fn new(p: f64) -> Option<Self> {
        (0.0..=1.0).contains(&p).then_some(Probability(p))
    }

    /// The value.
    pub fn get(self) -> f64 {
        self.0
    }
}

impl<'de> Deserialize<'de> for Probability {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let p = f64::deserialize(d)?;
        Probability::new(p).ok_or_else(|| {
            serde::de::Error::invalid_value(
                serde::de::Unexpected::Float(p),
                &"a probability between 0 and 1",
            )
        })
    }
}

impl JsonSchema for Probability {
    fn schema_name() -> Cow<'static, str> {
        "Probability".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "number",
            "minimum": 0.0,
            "maximum": 1.0,
            "description": "A probability in [0, 1]."
        })
    }
}

/// A distribution of a positive quantity, in the unit its field names.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", tag = "kind", deny_unknown_fields)]
pub enum Distribution {
    /// Always `value`.
    Fixed {
        /// The value.
        value: f64,
    },
    /// Uniform between `low` and `high`.
    Uniform {
        /// Lower bound.
        low: f64,
        /// Upper bound.
        high: f64,
    },
    /// Log-normal with this median and this standard deviation of the log.
    LogNormal {
        /// Median of the distribution.
        median: f64,
        /// Standard deviation of ln(x).
        sigma: f64,
    },
    /// Exponential with this mean.
    Exponential {
        /// Mean of the distribution.
        mean: f64,
    },
}

impl Distribution {
    /// Checks the parameters; `what` names the field in the message.
    pub fn check(&self) -> Result<(), String> {
        let ok = match *self {
            Distribution::Fixed { value: v } => v.is_finite() && v >= 0.0,
            Distribution::Uniform { low, high } => low.is_finite() && low >= 0.0 && high >= low,
            Distribution::LogNormal { median, sigma } => {
                median.is_finite() && median > 0.0 && sigma.is_finite() && sigma >= 0.0
            }
            Distribution::Exponential { mean } => mean.is_finite() && mean > 0.0,
        };
        if ok {
            Ok(())
        } else {
            Err(format!("invalid distribution parameters: {self:?}"))
        }
    }

    /// The protocol's equivalent (for the simulated provider).
    pub fn to_protocol(&self) -> peer2prompt::backend::dist::Dist {
        use peer2prompt::backend::dist::Dist;
        match *self {
            Distribution::Fixed { value } => Dist::Fixed { value },
            Distribution::Uniform { low, high } => Dist::Uniform { low, high },
            Distribution::LogNormal { median, sigma } => Dist::LogNormal {
                mu: median.ln(),
                sigma,
            },
            Distribution::Exponential { mean } => Dist::Exponential { mean },
        }
    }

    /// A draw.
    pub fn sample(&self, rng: &mut impl rand_core::Rng) -> f64 {
        self.to_protocol().sample(rng)
    }

    /// The mean.
    pub fn mean(&self) -> f64 {
        match *self {
            Distribution::Fixed { value: v } => v,
            Distribution::Uniform { low, high } => (low + high) / 2.0,
            Distribution::LogNormal { median, sigma } => median * (sigma * sigma / 2.0).exp(),
            Distribution::Exponential { mean } => mean,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probabilities_outside_the_unit_interval_are_refused() {
        assert!(serde_yaml::from_str::<Probability>("0.25").is_ok());
        assert!(serde_yaml::from_str::<Probability>("1").is_ok());
        let e = serde_yaml::from_str::<Probability>("1.5").unwrap_err();
        assert!(e.to_string().contains("between 0 and 1"), "{e}");
        assert!(serde_yaml::from_str::<Probability>("-0.1").is_err());
    }

    #[test]
    fn distribution_checks_and_means() {
        assert!(Distribution::Exponential { mean: 0.0 }.check().is_err());
        assert!(
            Distribution::Uniform {
                low: 3.0,
                high: 1.0
            }
            .check()
            .is_err()
        );
        assert_eq!(
            Distribution::Uniform {
                low: 1.0,
                high: 3.0
            }
            .mean(),
            2.0
        );
        let d: Distribution =
            serde_yaml::from_str("{kind: log_normal, median: 100, sigma: 0.5}").unwrap();
        assert!(d.check().is_ok());
        assert!(d.mean() > 100.0);
    }
}
