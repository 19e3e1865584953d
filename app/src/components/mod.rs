pub mod nav;
pub mod place;
pub mod verdict;
