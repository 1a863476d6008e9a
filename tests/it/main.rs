//! Integration tests: one binary, one module per part of rootdesk.

mod common;
mod foundation;
