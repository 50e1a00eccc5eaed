//! Orders by quantity: "50 numbers in 512" held as one reservation, Inward picking which.
//! All or nothing (the default) holds the whole quantity or nothing; best effort holds as
//! many as match, at least one.

/// What an order does when fewer numbers match than it asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    AllOrNothing,
    BestEffort,
}

impl Strategy {
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::AllOrNothing => "all_or_nothing",
            Strategy::BestEffort => "best_effort",
        }
    }

    /// An order's strategy as sent; none is all or nothing.
    pub fn parse(raw: Option<&str>) -> Result<Strategy, String> {
        match raw.map(str::trim).filter(|s| !s.is_empty()) {
            None | Some("all_or_nothing") => Ok(Strategy::AllOrNothing),
            Some("best_effort") => Ok(Strategy::BestEffort),
            Some(other) => Err(format!(
                "“{other}” is no strategy: all_or_nothing (the whole quantity or none) or best_effort (as many as match)"
            )),
        }
    }
}

/// The quantity asked for, from 1 to `max`.
pub fn check_quantity(quantity: i64, max: usize) -> Result<usize, String> {
    match usize::try_from(quantity) {
        Ok(q) if (1..=max).contains(&q) => Ok(q),
        _ => Err(format!("order from 1 to {max} numbers at once")),
    }
}

/// Too few numbers match the order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shortfall {
    pub requested: usize,
    pub available: usize,
}

/// How many of the `found` candidates the order takes.
pub fn take(quantity: usize, found: usize, strategy: Strategy) -> Result<usize, Shortfall> {
    let short = Shortfall {
        requested: quantity,
        available: found.min(quantity),
    };
    match strategy {
        _ if found >= quantity => Ok(quantity),
        Strategy::BestEffort if found > 0 => Ok(found),
        _ => Err(short),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_or_nothing_takes_the_whole_quantity_or_none() {
        let all = Strategy::AllOrNothing;
        assert_eq!(take(50, 80, all), Ok(50));
        assert_eq!(take(50, 50, all), Ok(50));
        assert_eq!(
            take(50, 49, all),
            Err(Shortfall {
                requested: 50,
                available: 49
            })
        );
    }

    #[test]
    fn best_effort_takes_what_matches_but_at_least_one() {
        let best = Strategy::BestEffort;
        assert_eq!(take(50, 80, best), Ok(50));
        assert_eq!(take(50, 7, best), Ok(7));
        assert_eq!(
            take(50, 0, best),
            Err(Shortfall {
                requested: 50,
                available: 0
            })
        );
    }

    #[test]
    fn quantities_and_strategies_are_checked() {
        assert_eq!(check_quantity(1, 5000), Ok(1));
        assert_eq!(check_quantity(5000, 5000), Ok(5000));
        assert!(check_quantity(0, 5000).is_err());
        assert!(check_quantity(-3, 5000).is_err());
        assert!(check_quantity(5001, 5000).is_err());
        assert_eq!(Strategy::parse(None), Ok(Strategy::AllOrNothing));
        assert_eq!(
            Strategy::parse(Some("best_effort")),
            Ok(Strategy::BestEffort)
        );
        assert!(Strategy::parse(Some("some")).is_err());
    }
}
