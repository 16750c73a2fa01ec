use teei_obs::traced;

#[traced(skip(passwd))]
fn login(password: &str) -> bool {
    password.is_empty()
}

#[traced(skip(password), fields(password))]
fn register(password: &str) -> bool {
    password.is_empty()
}

#[traced(skip(token), skip_all)]
fn refresh(token: &str) -> bool {
    token.is_empty()
}

fn main() {
    login("");
    register("");
    refresh("");
}
