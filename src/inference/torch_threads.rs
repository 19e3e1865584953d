//! libtorch's intra-op thread count belongs to each thread, but setting it also changes the
//! count that threads which have not computed yet start with: whichever thread set it last
//! would decide for the rest. So every thread that computes says what it wants first:
//! preprocessing a photo one (a resize spread over both cores of a loaded 2-core server
//! waits for a preempted thread at every step: with one one-thread forward pass the int8
//! bundle served 109 photos/s with two-thread resizes and 185/s with one-thread ones, with two
//! such passes 178 and 217), the engine's workers their share of the cores, training all.

/// Makes the calling thread compute with `threads` intra-op threads (0 leaves it as it is).
pub fn compute_on(threads: usize) {
    if threads > 0 && tch::get_num_threads() != threads as i32 {
        tch::set_num_threads(threads as i32);
    }
}

/// The machine's cores, for work that should have them all (training).
pub fn all_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
