//! Lists in the three output formats every list command offers: an aligned table for people,
//! CSV (RFC 4180, through the csv crate) and JSON of the typed rows.

use serde::Serialize;

use super::Format;
use crate::error::{Error, Result};

/// One list: column names (upper case in the table, lower case in CSV) and rows of cells.
pub struct Listing {
    columns: Vec<(&'static str, Align)>,
    /// CSV's header when it differs from the lower-cased table header.
    csv_names: Option<Vec<&'static str>>,
    rows: Vec<Vec<String>>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

impl Listing {
    pub fn new(columns: &[&'static str]) -> Listing {
        Listing {
            columns: columns.iter().map(|c| (*c, Align::Left)).collect(),
            csv_names: None,
            rows: Vec::new(),
        }
    }

    /// Names CSV's columns (stable, machine-read names) apart from the table's.
    pub fn csv_names(mut self, names: &[&'static str]) -> Listing {
        debug_assert_eq!(names.len(), self.columns.len());
        self.csv_names = Some(names.to_vec());
        self
    }

    /// Right-aligns the named columns (counts and ages).
    pub fn right(mut self, names: &[&str]) -> Listing {
        for (name, align) in &mut self.columns {
            if names.contains(name) {
                *align = Align::Right;
            }
        }
        self
    }

    pub fn row(&mut self, cells: Vec<String>) {
        debug_assert_eq!(cells.len(), self.columns.len());
        self.rows.push(cells);
    }

    /// Columns padded to their widest cell; the last column is not padded.
    pub fn table(&self) -> String {
        let mut widths: Vec<usize> = self.columns.iter().map(|(c, _)| c.len()).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |cells: Vec<&str>| {
            let last = cells.len().saturating_sub(1);
            let mut out = String::new();
            for (i, cell) in cells.into_iter().enumerate() {
                if i > 0 {
                    out.push_str("  ");
                }
                let pad = widths[i].saturating_sub(cell.chars().count());
                match (self.columns[i].1, i == last) {
                    (Align::Right, _) => {
                        out.push_str(&" ".repeat(pad));
                        out.push_str(cell);
                    }
                    (Align::Left, true) => out.push_str(cell),
                    (Align::Left, false) => {
                        out.push_str(cell);
                        out.push_str(&" ".repeat(pad));
                    }
                }
            }
            out.push('\n');
            out
        };
        let mut out = line(self.columns.iter().map(|(c, _)| *c).collect());
        for row in &self.rows {
            out.push_str(&line(row.iter().map(String::as_str).collect()));
        }
        out
    }

    /// A header of lower-case column names, then one record per row.
    pub fn csv(&self) -> Result<String> {
        let mut writer = csv::WriterBuilder::new()
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(Vec::new());
        let header: Vec<String> = match &self.csv_names {
            Some(names) => names.iter().map(|n| n.to_string()).collect(),
            None => self
                .columns
                .iter()
                .map(|(c, _)| c.to_lowercase().replace(' ', "_"))
                .collect(),
        };
        writer.write_record(&header).map_err(Error::failed)?;
        for row in &self.rows {
            writer.write_record(row).map_err(Error::failed)?;
        }
        let bytes = writer.into_inner().map_err(Error::failed)?;
        String::from_utf8(bytes).map_err(Error::failed)
    }

    /// The list in `format`; JSON is `json` (the typed rows), not the cells.
    pub fn render<T: Serialize + ?Sized>(&self, format: Format, json: &T) -> Result<String> {
        match format {
            Format::Table => Ok(self.table()),
            Format::Csv => self.csv(),
            Format::Json => Ok(format!(
                "{}\n",
                serde_json::to_string_pretty(json).map_err(Error::failed)?
            )),
        }
    }
}

/// A span of seconds in the largest units that matter: `45s`, `12m`, `5h 03m`, `3d 04h`.
pub fn age(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m", s / 60),
        3600..=86_399 => format!("{}h {:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d {:02}h", s / 86_400, s % 86_400 / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_pads_all_but_the_last_column_and_csv_quotes() {
        let mut l = Listing::new(&["NAME", "COUNT", "NOTE"]).right(&["COUNT"]);
        l.row(vec!["a".into(), "7".into(), "x, \"y\"".into()]);
        l.row(vec!["long name".into(), "12".into(), "z".into()]);
        assert_eq!(
            l.table(),
            "NAME       COUNT  NOTE\na              7  x, \"y\"\nlong name     12  z\n"
        );
        assert_eq!(
            l.csv().expect("csv"),
            "name,count,note\na,7,\"x, \"\"y\"\"\"\nlong name,12,z\n"
        );
    }

    #[test]
    fn ages_in_two_units() {
        assert_eq!(age(-5), "0s");
        assert_eq!(age(59), "59s");
        assert_eq!(age(61), "1m");
        assert_eq!(age(3600 * 5 + 180), "5h 03m");
        assert_eq!(age(86_400 * 3 + 3600 * 4), "3d 04h");
    }
}
