//! The trait implementations, generated for [`crate::PgStore`] and
//! [`crate::PgTransaction`] alike: each method checks the feature, then runs
//! its operation through [`run!`](crate::handle::run) on the handle's
//! connection.

/// Implements every durable trait for `$ty`, which has
/// `fn handle(&self) -> Handle<'_>`.
macro_rules! durable_impls {
    ($ty:ty) => {
        #[fullauth_api::async_trait]
        impl fullauth_api::UserStore for $ty {
            async fn create_user(
                &self,
                new: fullauth_api::NewUser,
            ) -> fullauth_api::StoreResult<fullauth_api::User> {
                let h = self.handle();
                h.ctx.require(fullauth_api::Feature::Core)?;
                run!(
                    h,
                    "create_user",
                    Retry::IfNotApplied,
                    savepoint = true,
                    |c| users::create(c, h.ctx, &new)
                )
            }
            async fn get_user(
                &self,
                id: &fullauth_api::UserId,
            ) -> fullauth_api::StoreResult<Option<fullauth_api::User>> {
                let h = self.handle();
                h.ctx.require(fullauth_api::Feature::Core)?;
                run!(h, "get_user", Retry::Idempotent, savepoint = false, |c| {
                    users::get(c, h.ctx, id)
                })
            }
            async fn get_user_by_email(
                &self,
                email: &fullauth_api::Email,
            ) -> fullauth_api::StoreResult<Option<fullauth_api::User>> {
                let h = self.handle();
                h.ctx.require(fullauth_api::Feature::Core)?;
                run!(
                    h,
                    "get_user_by_email",
                    Retry::Idempotent,
                    savepoint = false,
                    |c| users::get_by_email(c, h.ctx, email)
                )
            }
            async fn get_user_by_field(
                &self,
                lookup: &fullauth_api::UserLookup,
            ) -> fullauth_api::StoreResult<Option<fullauth_api::User>> {
                let h = self.handle();
                h.ctx.require(fullauth_api::Feature::Core)?;
                run!(
                    h,
                    "get_user_by_field",
                    Retry::Idempotent,
                    savepoint = true,
                    |c| users::get_by_field(c, h.ctx, lookup)
                )
            }
            async fn update_user(
                &self,
                id: &fullauth_api::UserId,
                patch: fullauth_api::UserPatch,
            ) -> fullauth_api::StoreResult<fullauth_api::User> {
                let h = self.handle();
                h.ctx.require(fullauth_api::Feature::Core)?;
                run!(h, "update_user", Retry::Idempotent, savepoint = true, |c| {
                    users::update(c, h.ctx, id, &patch)
                })
            }
            async fn delete_user(
                &self,
                id: &fullauth_api::UserId,
            ) -> fullauth_api::StoreResult<bool> {
                let h = self.handle();
                h.ctx.require(fullauth_api::Feature::Core)?;
                run!(
                    h,
                    "delete_user",
                    Retry::IfNotApplied,
                    savepoint = false,
                    |c| users::delete(c, h.ctx, id)
                )
            }
            async fn get_password_hash(
                &self,
                id: &fullauth_api::UserId,
            ) -> fullauth_api::StoreResult<Option<fullauth_api::HashedPassword>> {
                let h = self.handle();
                h.ctx.require(fullauth_api::Feature::Core)?;
                run!(
                    h,
                    "get_password_hash",
                    Retry::Idempotent,
                    savepoint = false,
                    |c| users::get_password_hash(c, h.ctx, id)
                )
            }
            async fn set_password_hash(
                &self,
                id: &fullauth_api::UserId,
                hash: Option<fullauth_api::HashedPassword>,
            ) -> fullauth_api::StoreResult<()> {
                let h = self.handle();
                h.ctx.require(fullauth_api::Feature::Core)?;
                run!(
                    h,
                    "set_password_hash",
                    Retry::Idempotent,
                    savepoint = false,
                    |c| users::set_password_hash(c, h.ctx, id, hash.as_ref())
                )
            }
            async fn mark_verified(
                &self,
                id: &fullauth_api::UserId,
            ) -> fullauth_api::StoreResult<()> {
                let h = self.handle();
                h.ctx.require(fullauth_api::Feature::Core)?;
                run!(
                    h,
                    "mark_verified",
                    Retry::Idempotent,
                    savepoint = false,
                    |c| users::mark_verified(c, h.ctx, id)
                )
            }
        }

        #[fullauth_api::async_trait]
        impl fullauth_api::RefreshTokenStore for $ty {
            async fn store_refresh_token(
                &self,
                new: fullauth_api::NewRefreshToken,
            ) -> fullauth_api::StoreResult<fullauth_api::RefreshToken> {
                let h = self.handle();
                h.ctx.require(fullauth_api::Feature::Core)?;
                run!(
                    h,
                    "store_refresh_token",
                    Retry::IfNotApplied,
                    savepoint = true,
                    |c| tokens::store(c, h.ctx, &new)
                )
            }
            async fn get_refresh_token(
                &self,
                digest: &fullauth_api::TokenDigest,
            ) -> fullauth_api::StoreResult<Option<fullauth_api::RefreshToken>> {
                let h = self.handle();
                h.ctx.require(fullauth_api::Feature::Core)?;
                run!(
                    h,
                    "get_refresh_token",
                    Retry::Idempotent,
                    savepoint = false,
                    |c| tokens::get(c, h.ctx, digest)
                )
            }
            async fn revoke_refresh_token(
                &self,
                digest: &fullauth_api::TokenDigest,
            ) -> fullauth_api::StoreResult<bool> {
                let h = self.handle();
                h.ctx.require(fullauth_api::Feature::Core)?;
                run!(
                    h,
                    "revoke_refresh_token",
                    Retry::IfNotApplied,
                    savepoint = false,
                    |c| tokens::revoke(c, h.ctx, digest)
                )
            }
            async fn rotate_refresh_token(
                &self,
                old: &fullauth_api::TokenDigest,
                next: fullauth_api::NextRefreshToken,
            ) -> fullauth_api::StoreResult<fullauth_api::Rotation> {
                let h = self.handle();
                h.ctx.require(fullauth_api::Feature::Core)?;
                run!(
                    h,
                    "rotate_refresh_token",
                    Retry::IfNotApplied,
                    savepoint = true,
                    |c| tokens::rotate(c, h.ctx, old, &next)
                )
            }
            async fn revoke_family(
                &self,
                family_id: &fullauth_api::FamilyId,
            ) -> fullauth_api::StoreResult<u64> {
                let h = self.handle();
                h.ctx.require(fullauth_api::Feature::Core)?;
                run!(
                    h,
                    "revoke_family",
                    Retry::IfNotApplied,
                    savepoint = false,
                    |c| tokens::revoke_family(c, h.ctx, family_id)
                )
            }
            async fn revoke_all_for_user(
                &self,
                user_id: &fullauth_api::UserId,
            ) -> fullauth_api::StoreResult<u64> {
                let h = self.handle();
                h.ctx.require(fullauth_api::Feature::Core)?;
                run!(
                    h,
                    "revoke_all_for_user",
                    Retry::IfNotApplied,
                    savepoint = false,
                    |c| tokens::revoke_all_for_user(c, h.ctx, user_id)
                )
            }
            async fn prune_expired_refresh_tokens(
                &self,
                before: fullauth_api::Timestamp,
            ) -> fullauth_api::StoreResult<u64> {
                let h = self.handle();
                h.ctx.require(fullauth_api::Feature::Core)?;
                run!(
                    h,
                    "prune_expired_refresh_tokens",
                    Retry::IfNotApplied,
                    savepoint = false,
                    |c| tokens::prune(c, h.ctx, before)
                )
            }
            async fn list_sessions(
                &self,
                user_id: &fullauth_api::UserId,
            ) -> fullauth_api::StoreResult<Vec<fullauth_api::Session>> {
                let h = self.handle();
                h.ctx.require(fullauth_api::Feature::Core)?;
                run!(
                    h,
                    "list_sessions",
                    Retry::Idempotent,
                    savepoint = false,
                    |c| tokens::list_sessions(c, h.ctx, user_id)
                )
            }
            async fn revoke_session(
                &self,
                user_id: &fullauth_api::UserId,
                family_id: &fullauth_api::FamilyId,
            ) -> fullauth_api::StoreResult<bool> {
                let h = self.handle();
                h.ctx.require(fullauth_api::Feature::Core)?;
                run!(
                    h,
                    "revoke_session",
                    Retry::Idempotent,
                    savepoint = false,
                    |c| tokens::revoke_session(c, h.ctx, user_id, family_id)
                )
            }
            async fn revoke_other_sessions(
                &self,
                user_id: &fullauth_api::UserId,
                keep: &fullauth_api::FamilyId,
            ) -> fullauth_api::StoreResult<u64> {
                let h = self.handle();
                h.ctx.require(fullauth_api::Feature::Core)?;
                run!(
                    h,
                    "revoke_other_sessions",
                    Retry::IfNotApplied,
                    savepoint = false,
                    |c| tokens::revoke_other_sessions(c, h.ctx, user_id, keep)
                )
            }
        }

        #[fullauth_api::async_trait]
        impl fullauth_api::RoleStore for $ty {
            async fn create_role(
                &self,
                role: &fullauth_api::RoleName,
            ) -> fullauth_api::StoreResult<bool> {
                let h = self.handle();
                h.ctx.require(fullauth_api::Feature::Roles)?;
                run!(
                    h,
                    "create_role",
                    Retry::IfNotApplied,
                    savepoint = false,
                    |c| roles::create(c, h.ctx, role)
                )
            }
            async fn assign_role(
                &self,
                user_id: &fullauth_api::UserId,
                role: &fullauth_api::RoleName,
            ) -> fullauth_api::StoreResult<bool> {
                let h = self.handle();
                h.ctx.require(fullauth_api::Feature::Roles)?;
                run!(
                    h,
                    "assign_role",
                    Retry::IfNotApplied,
                    savepoint = true,
                    |c| roles::assign(c, h.ctx, user_id, role)
                )
            }
            async fn remove_role(
                &self,
                user_id: &fullauth_api::UserId,
                role: &fullauth_api::RoleName,
            ) -> fullauth_api::StoreResult<bool> {
                let h = self.handle();
                h.ctx.require(fullauth_api::Feature::Roles)?;
                run!(
                    h,
                    "remove_role",
                    Retry::IfNotApplied,
                    savepoint = false,
                    |c| roles::remove(c, h.ctx, user_id, role)
                )
            }
            async fn get_user_roles(
                &self,
                user_id: &fullauth_api::UserId,
            ) -> fullauth_api::StoreResult<Vec<fullauth_api::RoleName>> {
                let h = self.handle();
                h.ctx.require(fullauth_api::Feature::Roles)?;
                run!(
                    h,
                    "get_user_roles",
                    Retry::Idempotent,
                    savepoint = false,
                    |c| roles::user_roles(c, h.ctx, user_id)
                )
            }
            async fn list_roles(&self) -> fullauth_api::StoreResult<Vec<fullauth_api::RoleName>> {
                let h = self.handle();
                h.ctx.require(fullauth_api::Feature::Roles)?;
                run!(h, "list_roles", Retry::Idempotent, savepoint = false, |c| {
                    roles::list(c, h.ctx)
                })
            }
            async fn delete_role(
                &self,
                role: &fullauth_api::RoleName,
            ) -> fullauth_api::StoreResult<bool> {
                let h = self.handle();
                h.ctx.require(fullauth_api::Feature::Roles)?;
                run!(
                    h,
                    "delete_role",
                    Retry::IfNotApplied,
                    savepoint = false,
                    |c| roles::delete(c, h.ctx, role)
                )
            }
        }

        #[fullauth_api::async_trait]
        impl fullauth_api::PermissionStore for $ty {
            async fn assign_permission(
                &self,
                role: &fullauth_api::RoleName,
                permission: &fullauth_api::PermissionName,
            ) -> fullauth_api::StoreResult<bool> {
                let h = self.handle();
                h.ctx.require(fullauth_api::Feature::Permissions)?;
                run!(
                    h,
                    "assign_permission",
                    Retry::IfNotApplied,
                    savepoint = true,
                    |c| permissions::assign(c, h.ctx, role, permission)
                )
            }
            async fn remove_permission(
                &self,
                role: &fullauth_api::RoleName,
                permission: &fullauth_api::PermissionName,
            ) -> fullauth_api::StoreResult<bool> {
                let h = self.handle();
                h.ctx.require(fullauth_api::Feature::Permissions)?;
                run!(
                    h,
                    "remove_permission",
                    Retry::IfNotApplied,
                    savepoint = false,
                    |c| permissions::remove(c, h.ctx, role, permission)
                )
            }
            async fn get_role_permissions(
                &self,
                role: &fullauth_api::RoleName,
            ) -> fullauth_api::StoreResult<Vec<fullauth_api::PermissionName>> {
                let h = self.handle();
                h.ctx.require(fullauth_api::Feature::Permissions)?;
                run!(
                    h,
                    "get_role_permissions",
                    Retry::Idempotent,
                    savepoint = false,
                    |c| permissions::for_role(c, h.ctx, role)
                )
            }
            async fn get_permissions_for_roles(
                &self,
                roles: &[fullauth_api::RoleName],
            ) -> fullauth_api::StoreResult<Vec<fullauth_api::PermissionName>> {
                let h = self.handle();
                h.ctx.require(fullauth_api::Feature::Permissions)?;
                run!(
                    h,
                    "get_permissions_for_roles",
                    Retry::Idempotent,
                    savepoint = false,
                    |c| permissions::for_roles(c, h.ctx, roles)
                )
            }
            async fn get_user_permissions(
                &self,
                user_id: &fullauth_api::UserId,
            ) -> fullauth_api::StoreResult<Vec<fullauth_api::PermissionName>> {
                let h = self.handle();
                h.ctx.require(fullauth_api::Feature::Permissions)?;
                run!(
                    h,
                    "get_user_permissions",
                    Retry::Idempotent,
                    savepoint = false,
                    |c| permissions::for_user(c, h.ctx, user_id)
                )
            }
            async fn list_permissions(
                &self,
            ) -> fullauth_api::StoreResult<Vec<fullauth_api::PermissionName>> {
                let h = self.handle();
                h.ctx.require(fullauth_api::Feature::Permissions)?;
                run!(
                    h,
                    "list_permissions",
                    Retry::Idempotent,
                    savepoint = false,
                    |c| permissions::list(c, h.ctx)
                )
            }
        }

        #[fullauth_api::async_trait]
        impl fullauth_api::OAuthStore for $ty {
            async fn get_oauth_account(
                &self,
                provider: &fullauth_api::ProviderName,
                provider_user_id: &fullauth_api::ProviderUserId,
            ) -> fullauth_api::StoreResult<Option<fullauth_api::OAuthAccount>> {
                let h = self.handle();
                h.ctx.require(fullauth_api::Feature::OAuth)?;
                run!(
                    h,
                    "get_oauth_account",
                    Retry::Idempotent,
                    savepoint = false,
                    |c| oauth::get(c, h.ctx, provider, provider_user_id)
                )
            }
            async fn list_oauth_accounts(
                &self,
                user_id: &fullauth_api::UserId,
            ) -> fullauth_api::StoreResult<Vec<fullauth_api::OAuthAccount>> {
                let h = self.handle();
                h.ctx.require(fullauth_api::Feature::OAuth)?;
                run!(
                    h,
                    "list_oauth_accounts",
                    Retry::Idempotent,
                    savepoint = false,
                    |c| oauth::list(c, h.ctx, user_id)
                )
            }
            async fn link_oauth_account(
                &self,
                new: fullauth_api::NewOAuthAccount,
            ) -> fullauth_api::StoreResult<fullauth_api::OAuthLink> {
                let h = self.handle();
                h.ctx.require(fullauth_api::Feature::OAuth)?;
                run!(
                    h,
                    "link_oauth_account",
                    Retry::IfNotApplied,
                    savepoint = true,
                    |c| oauth::link(c, h.ctx, &new)
                )
            }
            async fn update_oauth_account(
                &self,
                provider: &fullauth_api::ProviderName,
                provider_user_id: &fullauth_api::ProviderUserId,
                patch: fullauth_api::OAuthAccountPatch,
            ) -> fullauth_api::StoreResult<Option<fullauth_api::OAuthAccount>> {
                let h = self.handle();
                h.ctx.require(fullauth_api::Feature::OAuth)?;
                run!(
                    h,
                    "update_oauth_account",
                    Retry::Idempotent,
                    savepoint = true,
                    |c| oauth::update(c, h.ctx, provider, provider_user_id, &patch)
                )
            }
            async fn delete_oauth_account(
                &self,
                provider: &fullauth_api::ProviderName,
                provider_user_id: &fullauth_api::ProviderUserId,
            ) -> fullauth_api::StoreResult<bool> {
                let h = self.handle();
                h.ctx.require(fullauth_api::Feature::OAuth)?;
                run!(
                    h,
                    "delete_oauth_account",
                    Retry::IfNotApplied,
                    savepoint = false,
                    |c| oauth::delete(c, h.ctx, provider, provider_user_id)
                )
            }
        }

        #[fullauth_api::async_trait]
        impl fullauth_api::PasskeyStore for $ty {
            async fn get_passkey(
                &self,
                credential_id: &fullauth_api::CredentialId,
            ) -> fullauth_api::StoreResult<Option<fullauth_api::Passkey>> {
                let h = self.handle();
                h.ctx.require(fullauth_api::Feature::Passkeys)?;
                run!(
                    h,
                    "get_passkey",
                    Retry::Idempotent,
                    savepoint = false,
                    |c| passkeys::get(c, h.ctx, credential_id)
                )
            }
            async fn list_passkeys(
                &self,
                user_id: &fullauth_api::UserId,
            ) -> fullauth_api::StoreResult<Vec<fullauth_api::Passkey>> {
                let h = self.handle();
                h.ctx.require(fullauth_api::Feature::Passkeys)?;
                run!(
                    h,
                    "list_passkeys",
                    Retry::Idempotent,
                    savepoint = false,
                    |c| passkeys::list(c, h.ctx, user_id)
                )
            }
            async fn store_passkey(
                &self,
                new: fullauth_api::NewPasskey,
            ) -> fullauth_api::StoreResult<fullauth_api::Passkey> {
                let h = self.handle();
                h.ctx.require(fullauth_api::Feature::Passkeys)?;
                run!(
                    h,
                    "store_passkey",
                    Retry::IfNotApplied,
                    savepoint = true,
                    |c| passkeys::store(c, h.ctx, &new)
                )
            }
            async fn update_sign_count(
                &self,
                credential_id: &fullauth_api::CredentialId,
                new_count: u32,
            ) -> fullauth_api::StoreResult<bool> {
                let h = self.handle();
                h.ctx.require(fullauth_api::Feature::Passkeys)?;
                run!(
                    h,
                    "update_sign_count",
                    Retry::IfNotApplied,
                    savepoint = false,
                    |c| passkeys::update_sign_count(c, h.ctx, credential_id, new_count)
                )
            }
            async fn rename_passkey(
                &self,
                user_id: &fullauth_api::UserId,
                passkey_id: uuid::Uuid,
                name: &fullauth_api::DeviceName,
            ) -> fullauth_api::StoreResult<bool> {
                let h = self.handle();
                h.ctx.require(fullauth_api::Feature::Passkeys)?;
                run!(
                    h,
                    "rename_passkey",
                    Retry::Idempotent,
                    savepoint = false,
                    |c| passkeys::rename(c, h.ctx, user_id, passkey_id, name)
                )
            }
            async fn delete_passkey(
                &self,
                user_id: &fullauth_api::UserId,
                passkey_id: uuid::Uuid,
            ) -> fullauth_api::StoreResult<bool> {
                let h = self.handle();
                h.ctx.require(fullauth_api::Feature::Passkeys)?;
                run!(
                    h,
                    "delete_passkey",
                    Retry::IfNotApplied,
                    savepoint = false,
                    |c| passkeys::delete(c, h.ctx, user_id, passkey_id)
                )
            }
        }

        #[fullauth_api::async_trait]
        impl fullauth_api::MfaStore for $ty {
            async fn get_mfa(
                &self,
                user_id: &fullauth_api::UserId,
            ) -> fullauth_api::StoreResult<Option<fullauth_api::MfaFactor>> {
                let h = self.handle();
                h.ctx.require(fullauth_api::Feature::Mfa)?;
                run!(h, "get_mfa", Retry::Idempotent, savepoint = false, |c| {
                    mfa::get(c, h.ctx, user_id)
                })
            }
            async fn store_mfa(
                &self,
                user_id: &fullauth_api::UserId,
                secret: &fullauth_api::MfaSecret,
            ) -> fullauth_api::StoreResult<fullauth_api::MfaFactor> {
                let h = self.handle();
                h.ctx.require(fullauth_api::Feature::Mfa)?;
                run!(h, "store_mfa", Retry::IfNotApplied, savepoint = true, |c| {
                    mfa::store(c, h.ctx, user_id, secret)
                })
            }
            async fn confirm_mfa(
                &self,
                user_id: &fullauth_api::UserId,
                recovery_codes: &[fullauth_api::TokenDigest],
            ) -> fullauth_api::StoreResult<bool> {
                let h = self.handle();
                h.ctx.require(fullauth_api::Feature::Mfa)?;
                run!(
                    h,
                    "confirm_mfa",
                    Retry::IfNotApplied,
                    savepoint = false,
                    |c| mfa::confirm(c, h.ctx, user_id, recovery_codes)
                )
            }
            async fn delete_mfa(
                &self,
                user_id: &fullauth_api::UserId,
            ) -> fullauth_api::StoreResult<bool> {
                let h = self.handle();
                h.ctx.require(fullauth_api::Feature::Mfa)?;
                run!(
                    h,
                    "delete_mfa",
                    Retry::IfNotApplied,
                    savepoint = false,
                    |c| mfa::delete(c, h.ctx, user_id)
                )
            }
            async fn advance_mfa_counter(
                &self,
                user_id: &fullauth_api::UserId,
                counter: u32,
            ) -> fullauth_api::StoreResult<bool> {
                let h = self.handle();
                h.ctx.require(fullauth_api::Feature::Mfa)?;
                run!(
                    h,
                    "advance_mfa_counter",
                    Retry::IfNotApplied,
                    savepoint = false,
                    |c| mfa::advance(c, h.ctx, user_id, counter)
                )
            }
            async fn consume_recovery_code(
                &self,
                user_id: &fullauth_api::UserId,
                code: &fullauth_api::TokenDigest,
            ) -> fullauth_api::StoreResult<bool> {
                let h = self.handle();
                h.ctx.require(fullauth_api::Feature::Mfa)?;
                run!(
                    h,
                    "consume_recovery_code",
                    Retry::IfNotApplied,
                    savepoint = false,
                    |c| mfa::consume(c, h.ctx, user_id, code)
                )
            }
        }
    };
}
pub(crate) use durable_impls;
