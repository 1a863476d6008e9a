//! Integration tests: one binary, one module per part of rootdesk.

mod audit;
mod cds;
mod check;
mod cli;
mod common;
mod daemon;
mod foundation;
mod gaps;
mod metrics;
mod notify;
mod people;
mod portal;
