//! Integration tests: one binary, one module per part of rootdesk.

mod audit;
mod common;
mod foundation;
