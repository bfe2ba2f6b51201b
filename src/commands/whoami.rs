//! `grantguard whoami`: which credentials, region and endpoint a run would use; never the secret.

use crate::cli::AccountArgs;
use crate::output::emit;
use crate::rules::Catalog;
use crate::session::{load_config, target_of};
use crate::{account, Error, Outcome};

/// `whoami`: where the credentials come from, masked; never the secret.
pub(crate) async fn whoami_command(account: &AccountArgs) -> Result<Outcome, Error> {
    let config = load_config(account.config.as_ref(), &Catalog::builtin())?;
    let target = target_of(account, &config).await?;
    let text = account::describe(&target);
    emit(None, |out| out.write_all(text.as_bytes()))?;
    Ok(Outcome::Clear)
}
