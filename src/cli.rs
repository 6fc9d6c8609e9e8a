//! What every `tickwire` subcommand does with its arguments.

/// Parses `args` (without the program name) as `T`, named `name` in messages.
/// `Ok(None)` when `--help` or `--version` was printed; an error carrying
/// clap's message (without its own `error: ` prefix, which the binary adds)
/// for bad arguments.
pub fn parse<T: clap::Parser>(name: &str, args: &[String]) -> anyhow::Result<Option<T>> {
    match T::try_parse_from(std::iter::once(name.to_owned()).chain(args.iter().cloned())) {
        Ok(a) => Ok(Some(a)),
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                print!("{e}");
                return Ok(None);
            }
            anyhow::bail!(
                "{}",
                e.render()
                    .to_string()
                    .trim_end()
                    .trim_start_matches("error: ")
            )
        }
    }
}
