//! Reused argon2id working memory.
//!
//! Every argon2id computation needs `m` KiB of memory (19 MiB at today's parameters). Allocated
//! per call, glibc raises its mmap threshold after the first such buffer is freed, so later ones
//! come from per-thread heap arenas and stay resident: the load tool measured a 498 MiB peak RSS
//! under password sign-in load on 2 cores (60 MiB with the threshold pinned; docs/benchmarks.md).
//! Buffers are kept here instead and lent to one computation at a time, so there are never more
//! of them than computations that ran at once (the hash pool's size), and no allocation per hash.

use argon2::{Algorithm, Argon2, Block, Params, Version};
use std::sync::Mutex;

/// Buffers not lent out.
static FREE: Mutex<Vec<Vec<Block>>> = Mutex::new(Vec::new());

/// Runs `f` with a buffer of `blocks` argon2 blocks, then keeps the buffer for the next caller.
fn with_memory<T>(blocks: usize, f: impl FnOnce(&mut [Block]) -> T) -> T {
    let mut memory = FREE
        .lock()
        .ok()
        .and_then(|mut free| free.pop())
        .unwrap_or_default();
    if memory.len() != blocks {
        memory = vec![Block::default(); blocks];
    }
    let out = f(&mut memory);
    if let Ok(mut free) = FREE.lock() {
        free.push(memory);
    }
    out
}

/// The raw argon2id (v19) output of `password` and `salt` at `params`, written to `out`.
pub(super) fn argon2id_into(
    params: &Params,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> argon2::Result<()> {
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    with_memory(params.block_count(), |memory| {
        argon2.hash_password_into_with_memory(password, salt, out, memory)
    })
}

/// Buffers currently kept (for tests).
#[cfg(test)]
pub(super) fn kept() -> usize {
    FREE.lock().map(|f| f.len()).unwrap_or(0)
}
