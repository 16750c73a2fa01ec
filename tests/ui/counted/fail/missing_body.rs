use teei_obs::counted;

trait Store {
    #[counted]
    fn load(&self) -> u8;
}

fn main() {}
