pub mod nav;
pub mod verdict;
