//! Reading text one line at a time with a cap on a line's length, so that an endless line
//! (`/dev/zero`, a binary file) is an error instead of an allocation that never ends. Shared by
//! the CLI's `embed --file` and the training-data JSONL reader.

use std::io::{BufRead, Read};

/// What [`read_capped_line`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CappedLine {
    /// A line (its bytes are in the buffer, without `\n` or `\r\n`).
    Line,
    /// A line longer than the cap (the buffer holds its first bytes only).
    TooLong,
    /// The end of the input.
    End,
}

/// Reads the next line of `reader` into `buf` (cleared first), reading at most `max` bytes of
/// it plus the line ending; a final `\n` or `\r\n` is removed.
pub fn read_capped_line(
    reader: &mut dyn BufRead,
    buf: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<CappedLine> {
    buf.clear();
    // The line, `\r\n` and one byte more: enough to tell that it is too long.
    let limit = (max as u64).saturating_add(3);
    if reader.take(limit).read_until(b'\n', buf)? == 0 {
        return Ok(CappedLine::End);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
    }
    Ok(if buf.len() > max {
        CappedLine::TooLong
    } else {
        CappedLine::Line
    })
}

#[cfg(test)]
mod tests {
    use super::{CappedLine, read_capped_line};
    use std::io::Read;

    #[test]
    fn lines_endings_and_the_cap() {
        let mut input: &[u8] = b"ab\r\ncd\n\nlong line\nlast";
        let mut buf = Vec::new();
        let mut seen = Vec::new();
        loop {
            let r = read_capped_line(&mut input, &mut buf, 4).unwrap();
            if r == CappedLine::End {
                break;
            }
            seen.push((r, String::from_utf8_lossy(&buf).into_owned()));
            if r == CappedLine::TooLong {
                break; // callers stop at a too-long line
            }
        }
        assert_eq!(seen[0], (CappedLine::Line, "ab".into()));
        assert_eq!(seen[1], (CappedLine::Line, "cd".into()));
        assert_eq!(seen[2], (CappedLine::Line, String::new()));
        assert_eq!(seen[3].0, CappedLine::TooLong);
        assert_eq!(seen.len(), 4, "{seen:?}");
        // An endless line stops after the cap.
        let mut zeros = std::io::repeat(0).take(1 << 20);
        let mut zeros = std::io::BufReader::new(&mut zeros);
        assert_eq!(
            read_capped_line(&mut zeros, &mut buf, 16).unwrap(),
            CappedLine::TooLong
        );
        assert!(buf.len() <= 19);
    }
}
