pub mod chart;
pub mod nav;
pub mod pest_alerts;
pub mod place;
pub mod verdict;
